// Bundles the CLI with esbuild (docs/design.md §7): dist/auth.cjs is the small entry,
// dist/main.cjs the command tree, loaded on demand.
import { build } from 'esbuild';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  format: 'cjs',
  logLevel: 'warning',
  legalComments: 'none',
  // Native binding and the browser launcher (which finds its helper scripts next to itself) stay external;
  // so does undici, required only when a proxy variable is set (docs/design.md §3).
  external: ['@napi-rs/keyring', 'open', 'undici'],
  define: { __VERSION__: JSON.stringify(pkg.version) },
};
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist', 'package.json'), '{ "type": "commonjs" }\n');
await Promise.all([
  // Minified: the entry is parsed on every `auth token`, and smaller parses faster (docs/design.md §7).
  build({ ...common, entryPoints: [join(root, 'src/bin.ts')], outfile: join(root, 'dist/auth.cjs'), minify: true }),
  build({ ...common, entryPoints: [join(root, 'src/main.ts')], outfile: join(root, 'dist/main.cjs') }),
]);
