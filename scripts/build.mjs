// Bundles the CLI with esbuild (docs/design.md §7): dist/auth.cjs is the small entry,
// dist/main.cjs the command tree, loaded on demand, and dist/vendor/*.cjs the large
// libraries only some commands need, each read only when a command first uses it.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** Runs in a child: the commands whose functions go into the code cache, then the cache. */
const WARM = `
const [entry, cacheFile, key] = process.argv.slice(1);
const { writeFileSync } = require('node:fs');
const { exports: cli, script } = require(entry).compileMain(false);
(async () => {
  for (const argv of [['status'], ['token'], ['profiles'], ['login', '--help']]) await cli.main(argv).catch(() => {});
  writeFileSync(cacheFile, Buffer.concat([Buffer.from(key, 'latin1'), script.createCachedData()]));
})();
`;
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

// dist/main.cjs as V8 reads it fastest: ASCII only (one non-ASCII character in a comment makes
// V8 hold the whole bundle as a two-byte string), ending in the key of its code cache.
const mainFile = join(dist, 'main.cjs');
const bundled = readFileSync(mainFile, 'utf8');
// src/bin.ts compiles main.cjs without an import() loader: an external module must be reached
// through require (`typeof require === 'function' ? require(x) : await import(x)` in the source).
// An import( at the start of a line is the text of a script for another process (system.ts
// OPEN_CHILD): the bundle's own code never starts a line with it.
const unguarded = [...bundled.matchAll(/(^|[^\w$.])import\(/gm)]
  .filter((m) => m[1] !== '' && m[1] !== '\n' && !/typeof require\s*===?\s*"function"\s*\?[^;]*$/.test(bundled.slice(Math.max(0, m.index - 200), m.index)))
  .map((m) => bundled.slice(Math.max(0, m.index - 80), m.index + 40));
if (unguarded.length) throw new Error(`build: dist/main.cjs would call import(), which fails there (src/bin.ts):\n${unguarded.join('\n---\n')}`);
// Each UTF-16 unit outside printable ASCII becomes \uXXXX: text in a comment, the same character
// in a string, template or regular expression, and esbuild already escapes those anyway.
const mainText = bundled.replace(/[^\t\n\r -~]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const cacheKey = createHash('sha256').update(mainText).digest('hex');
writeFileSync(mainFile, `${mainText}//# authcli-cache-key=${cacheKey}\n`);
rmSync(`${mainFile}.cache`, { force: true });

// V8's code cache for dist/main.cjs (loaded by src/bin.ts compileMain): compiled while a child
// process runs a few commands against an empty AUTH_HOME, so it holds the functions a run
// needs, not only the top level. Best effort: without it the CLI compiles the bundle itself.
const warmHome = mkdtempSync(join(tmpdir(), 'authcli-build-'));
try {
  execFileSync(process.execPath, ['-e', WARM, join(dist, 'auth.cjs'), `${mainFile}.cache`, cacheKey], {
    env: { PATH: process.env.PATH, HOME: warmHome, AUTH_HOME: warmHome, AUTH_STORAGE: 'file', NO_COLOR: '1', DBUS_SESSION_BUS_ADDRESS: 'disabled:' },
    stdio: 'ignore',
    timeout: 60_000,
  });
} catch (e) {
  process.stderr.write(`build: no code cache for dist/main.cjs (${e.message}); the CLI works without it, only slower to start.\n`);
} finally {
  rmSync(warmHome, { recursive: true, force: true });
}
