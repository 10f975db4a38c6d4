// Bundles the CLI with esbuild (docs/design.md §7): dist/auth.cjs is the small entry,
// dist/main.cjs the command tree, loaded on demand, and dist/vendor/*.cjs the large
// libraries only some commands need, each read only when a command first uses it.
import { build } from 'esbuild';
import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
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

// Every CLI process reads and compiles all of dist/main.cjs, so its size is startup time
// (docs/design.md §7). These libraries are bundled on their own: the prompts (with the
// editor's encoding tables, over 800 KB) only for the wizard and hidden prompts, the
// protocol stack only for commands that talk to a provider, and so on.
const VENDORS = {
  '@inquirer/prompts': 'prompts',
  ora: 'spinner',
  'qrcode-terminal': 'qrcode',
  otpauth: 'otpauth',
  'openid-client': 'openid-client',
  jose: 'jose',
};
const vendorFilter = new RegExp(`^(${Object.keys(VENDORS).map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);

/**
 * Resolves each vendored library (except `self`) to a stub module whose body is
 * `module.exports = require('<dir>/<name>.cjs')`: the stub is bundled (so `import()` and
 * `import * as` keep esbuild's lazy CommonJS interop), the vendor file stays external.
 */
function vendored(dir, self) {
  return {
    name: 'vendored',
    setup(b) {
      b.onResolve({ filter: vendorFilter }, (args) => (args.path === self ? undefined : { path: args.path, namespace: 'vendor' }));
      b.onLoad({ filter: /.*/, namespace: 'vendor' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(`${dir}${VENDORS[args.path]}.cjs`)});`,
        loader: 'js',
        resolveDir: root,
      }));
      b.onResolve({ filter: /\.cjs$/, namespace: 'vendor' }, (args) => ({ path: args.path, external: true }));
    },
  };
}

const dist = join(root, 'dist');
rmSync(join(dist, 'vendor'), { recursive: true, force: true });
mkdirSync(join(dist, 'vendor'), { recursive: true });
writeFileSync(join(dist, 'package.json'), '{ "type": "commonjs" }\n');
await Promise.all([
  // Minified: the entry is parsed on every `auth token`, and smaller parses faster (docs/design.md §7).
  build({ ...common, entryPoints: [join(root, 'src/bin.ts')], outfile: join(dist, 'auth.cjs'), minify: true }),
  build({ ...common, entryPoints: [join(root, 'src/main.ts')], outfile: join(dist, 'main.cjs'), plugins: [vendored('./vendor/')] }),
  ...Object.entries(VENDORS).map(([name, file]) =>
    build({
      ...common,
      stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: root, loader: 'js' },
      outfile: join(dist, 'vendor', `${file}.cjs`),
      plugins: [vendored('./', name)],
    }),
  ),
]);
