/**
 * The process entry (bundled to dist/auth.cjs). Kept tiny: `auth token` with a
 * valid stored token is answered here (src/fast/token.ts); everything else is
 * in dist/main.cjs, loaded only when needed (docs/design.md §7).
 */
import { fstatSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fastGitCredential, fastToken, type FastHandoff, type FastIO } from './fast/token.js';

declare const __dirname: string;

type MainModule = { main(argv: string[], handoff?: FastHandoff): Promise<number> };

/** The line scripts/build.mjs appends to dist/main.cjs: the key its code cache must carry. */
const CACHE_KEY = /\/\/# authcli-cache-key=([0-9a-f]{64})\s*$/;

/**
 * Loads dist/main.cjs as `require` would, but with the V8 code cache the build wrote beside it
 * (dist/main.cjs.cache): compiling the bundle is a large part of every full-CLI run
 * (docs/design.md §7). The cache is used only when it starts with the key on the bundle's last
 * line (written with it by the same build), and V8 rejects it by itself after a Node upgrade;
 * without it the bundle compiles as usual. scripts/build.mjs calls this to produce the cache.
 */
export function compileMain(useCache = true): { exports: MainModule; script: import('node:vm').Script } {
  const load = require as (id: string) => unknown;
  const vm = load('node:vm') as typeof import('node:vm');
  const Module = load('node:module') as typeof import('node:module') & { wrap(source: string): string; new (id: string): NodeJS.Module };
  const file = join(__dirname, 'main.cjs');
  const source = readFileSync(file, 'utf8');
  let cachedData: Buffer | undefined;
  const key = useCache ? CACHE_KEY.exec(source.slice(-200))?.[1] : undefined;
  if (key) {
    try {
      const buf = readFileSync(`${file}.cache`);
      if (buf.toString('latin1', 0, key.length) === key) cachedData = buf.subarray(key.length);
    } catch {
      /* no cache: compile as usual */
    }
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    // No import() loader (Node 20 has only experimental ones): scripts/build.mjs checks that the
    // bundle reaches its external modules through require.
    ...(cachedData ? { cachedData } : {}),
  });
  const mod = new Module(file);
  mod.filename = file;
  // Where require would put it: a second load (and anything that looks) finds it there.
  require.cache[file] = mod;
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => void;
  wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, __dirname);
  mod.loaded = true;
  return { exports: mod.exports as MainModule, script };
}

function runMain(argv: string[], handoff?: FastHandoff): void {
  compileMain()
    .exports.main(argv, handoff)
    .then((code) => {
      process.exitCode = code;
    })
    .catch(() => {
      process.stderr.write('error: unexpected failure; run again with --debug.\n');
      process.exitCode = 1;
    });
}

/** Raw fd output for the fast path: process.stdout (and the tty/net modules behind it) is never built. */
const fdIO: FastIO = {
  stdoutIsTTY() {
    // Pipes, files and /dev/null (the usual `$(auth token)`, `> file`) are answered by fstat;
    // only another character device needs the tty module (which loads net and streams).
    try {
      const st = fstatSync(1);
      if (!st.isCharacterDevice()) return false;
      const devNull = statSync('/dev/null');
      if (st.rdev === devNull.rdev && st.ino === devNull.ino) return false;
    } catch {
      /* no /dev/null (Windows): ask tty */
    }
    return (require('node:tty') as typeof import('node:tty')).isatty(1);
  },
  write(fd, text) {
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(fd, buf, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        // A non-blocking pipe that is full: let the stream queue the rest.
        (fd === 1 ? process.stdout : process.stderr).write(buf.subarray(off));
        return;
      }
    }
  },
};

/**
 * git's credential request, read whole from a pipe or file (git closes it after the request).
 * `complete` is false when stdin is a terminal or would block: then the full CLI reads it.
 */
function readRequestSync(): { text: string; complete: boolean } {
  let text = '';
  try {
    const st = fstatSync(0);
    if (!st.isFIFO() && !st.isFile() && !st.isSocket()) return { text, complete: false };
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(0, buf, 0, buf.length, null);
      if (n === 0) return { text, complete: true };
      text += buf.toString('utf8', 0, n);
      if (text.length > 64 * 1024) return { text, complete: false };
    }
  } catch {
    return { text, complete: false };
  }
}

export function run(argv: string[]): void {
  if (argv.length === 2 && argv[0] === 'git-credential' && argv[1] === 'get') {
    const request = readRequestSync();
    // What was read goes to the full CLI, ahead of whatever stdin still holds.
    const handoff: FastHandoff = { stdinPrefix: request.text, ...(request.complete ? { stdinComplete: true } : {}) };
    if (!request.complete) return runMain(argv, handoff);
    return answerOrMain(fastGitCredential(request.text, process.env, fdIO, handoff), argv, handoff);
  }
  if (!argv.includes('token')) return runMain(argv);
  const handoff: FastHandoff = {};
  answerOrMain(fastToken(argv, process.env, fdIO, handoff), argv, handoff);
}

/** The warm path's exit code, or (undefined, or a failure) the full CLI with what it learned. */
function answerOrMain(answer: Promise<number | undefined>, argv: string[], handoff: FastHandoff): void {
  answer.then(
    (code) => {
      if (code === undefined) runMain(argv, handoff);
      else process.exitCode = code;
    },
    () => runMain(argv, handoff),
  );
}
