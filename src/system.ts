import { execFile, spawn } from 'node:child_process';
import { constants as osConstants, homedir, hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { Readable } from 'node:stream';
import { resolvePaths } from './config/paths.js';
import type { Browser, CapturedOutcome, ChildOutcome, Deps, Logger } from './deps.js';
import { AuthError } from './errors.js';
import { boundedFetch, httpTimeoutMs, MAX_RESPONSE_BYTES } from './flows/bounded-fetch.js';
import { openStore } from './store/select.js';
import { testClockMs } from './store/layout.js';
import { StorageContext } from './store/context.js';
import type { FastHandoff } from './fast/token.js';
import { createLogger, redactUrl } from './ui/log.js';
import { createPrompter } from './ui/prompter.js';

/** The real effects. Only this file (and bin/) touches process, global fetch, the clock and the browser. */
export function createSystemDeps(options: { color: boolean; debug: boolean; secretService?: FastHandoff['secretService']; stdin?: { prefix: string; complete: boolean }; agentAsked?: boolean }): Deps {
  // A copy: nothing below mutates the process environment (docs/architecture.md "Layers").
  const env: NodeJS.ProcessEnv = { ...process.env };
  const io = {
    stdout: process.stdout,
    stderr: process.stderr,
    // bin.ts may have read some of stdin already (the warm path of `auth git-credential get`).
    stdin: options.stdin ? stdinAfter(options.stdin.prefix, options.stdin.complete) : process.stdin,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
  };
  const log = createLogger(process.stderr, options);
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => controller.abort(new AuthError('AUTH_INTERRUPTED', `Interrupted (${sig}).`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const paths = resolvePaths(env, process.platform, homedir());
  const storage = new StorageContext();
  // The fast path's Secret Service answer (bin.ts), so a silent bus is waited for once.
  if (options.secretService) storage.keychain.set(options.secretService.bus, options.secretService.check);
  const deps: Deps = {
    io,
    env,
    platform: process.platform,
    hostname: hostname(),
    clock: testClock(env) ?? { now: () => Date.now() },
    // Every answer is read whole under a deadline and a size cap (flows/bounded-fetch.ts).
    fetch: loggingFetch(log, boundedFetch(networkFetch(env, log), { timeoutMs: httpTimeoutMs(env), maxBytes: MAX_RESPONSE_BYTES })),
    paths,
    browser: systemBrowser(env, process.platform, log),
    prompter: createPrompter(io, controller.signal),
    storage,
    log,
    signal: controller.signal,
    openStore: (kind, profile) => openStore(kind, profile, deps),
    runChild,
    runCapture,
    authPath: selfPath(),
    home: homedir(),
    ...(options.agentAsked ? { agentAsked: true } : {}),
  };
  return deps;
}

/**
 * Deps for one request the agent serves (src/agent/server.ts): what the stores remember is per
 * request (a keychain that comes back is seen), and nothing prompts — the agent has no terminal
 * to ask at, whatever its stdio is.
 */
export function requestDeps(base: Deps): Deps {
  const deps: Deps = {
    ...base,
    io: { ...base.io, stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false },
    storage: new StorageContext(),
    openStore: (kind, profile) => openStore(kind, profile, deps),
  };
  return deps;
}

/** TEST ONLY: AUTH_TEST_NOW_MS freezes deps.clock (store/layout.ts testClockMs; the fast path reads it the same way). */
function testClock(env: NodeJS.ProcessEnv): { now(): number } | undefined {
  const fixed = testClockMs(env);
  return fixed === undefined ? undefined : { now: () => fixed };
}

function stdinAfter(prefix: string, complete: boolean): NodeJS.ReadableStream {
  return Readable.from((async function* () {
    if (prefix) yield Buffer.from(prefix);
    if (!complete) for await (const chunk of process.stdin) yield chunk as Buffer;
  })());
}

function selfPath(): string {
  const main = process.argv[1] ?? '';
  try {
    return realpathSync(main);
  } catch {
    return main;
  }
}

function runCapture(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<CapturedOutcome> {
  return new Promise((resolve) => {
    execFile(file, args, { env, encoding: 'utf8', maxBuffer: 1024 * 1024, windowsHide: true }, (error, stdout, stderr) => {
      const e = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && typeof e.code === 'string') return resolve({ spawnError: e.code });
      resolve({ exitCode: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });
}

/**
 * `auth exec`: the child shares our terminal (stdio inherited, same process
 * group, so it keeps job control); SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to
 * auth are passed on (SIGBREAK instead of SIGQUIT on Windows), and auth stays
 * alive until the child is gone, exiting as it did (docs/design.md §2).
 */
function runChild(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit', env, shell: false });
    const forward = (sig: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
    for (const sig of signals) process.on(sig, forward);
    const done = (outcome: ChildOutcome) => {
      for (const sig of signals) process.off(sig, forward);
      resolve(outcome);
    };
    child.once('error', (e: NodeJS.ErrnoException) => done({ spawnError: e.code ?? e.message }));
    child.once('exit', (code, signal) => done({ exitCode: signal ? 128 + (osConstants.signals[signal] ?? 0) : code ?? 1 }));
  });
}

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

/**
 * docs/design.md §3: every request honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY through
 * undici's EnvHttpProxyAgent — loaded only when a proxy variable is set (Node
 * 20's bundled fetch cannot take a proxy, and its undici is not importable).
 * Custom CAs need nothing here: Node reads NODE_EXTRA_CA_CERTS at startup and
 * both fetches use its TLS defaults.
 */
function networkFetch(env: NodeJS.ProcessEnv, log: Logger): typeof fetch {
  const proxy = PROXY_VARIABLES.find((name) => env[name]);
  if (!proxy) {
    // node:http, node:https and node:zlib load with the first request, not with every command.
    let transport: Promise<typeof fetch> | undefined;
    return async (input, init) => (await (transport ??= import('./flows/http-transport.js').then(({ httpTransport }) => httpTransport(fetch))))(input, init);
  }
  let proxied: Promise<typeof fetch> | undefined;
  return async (input, init) => {
    // require where there is one: dist/main.cjs is compiled without an import() loader (src/bin.ts).
    proxied ??= (typeof require === 'function' ? Promise.resolve(require('undici') as typeof import('undici')) : import('undici')).then(({ fetch: undiciFetch, EnvHttpProxyAgent }) => {
      log.debug(`using the proxy from ${proxy}${env.NO_PROXY || env.no_proxy ? ' (NO_PROXY honoured)' : ''}`);
      const dispatcher = new EnvHttpProxyAgent();
      return ((url: Parameters<typeof fetch>[0], options?: RequestInit) =>
        undiciFetch(url as Parameters<typeof undiciFetch>[0], { ...(options as object), dispatcher } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch;
    });
    return (await proxied)(input, init);
  };
}

/** Debug lines name method, redacted URL, status and time — never bodies or headers (docs/security.md R87). */
function loggingFetch(log: Logger, fetch: typeof globalThis.fetch): typeof globalThis.fetch {
  if (!log.debugEnabled) return fetch;
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const started = performance.now();
    log.debug(`→ ${method} ${redactUrl(url)}`);
    try {
      const res = await fetch(input, init);
      log.debug(`← ${res.status} ${method} ${redactUrl(url)} (${Math.round(performance.now() - started)} ms)`);
      return res;
    } catch (e) {
      log.debug(`✗ ${method} ${redactUrl(url)}: ${(e as Error).name}`);
      throw e;
    }
  };
}

/**
 * docs/security.md R104: the URL is parsed and checked before any launcher sees it, and
 * it is passed as a single argv element without a shell.
 */
function assertLaunchableUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AuthError('AUTH_PROVIDER_ERROR', 'Refusing to open a malformed URL from the provider.');
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    throw new AuthError('AUTH_INSECURE', `Refusing to open a non-https URL from the provider (${parsed.protocol}).`);
  }
  // eslint-disable-next-line no-control-regex
  if (parsed.username || parsed.password || /[\s\u0000-\u001f\u007f"'`<>^|\\]/.test(url)) {
    throw new AuthError('AUTH_PROVIDER_ERROR', 'Refusing to open a URL from the provider that contains credentials, whitespace or shell metacharacters.');
  }
}

/**
 * Variables that hold secrets of auth itself (docs/security.md R85): the browser never gets them.
 * (A profile's client-secret variable is removed by `auth login` once it has read it.)
 */
const BROWSER_UNSAFE_ENV = ['AUTH_PASSPHRASE'] as const;

/**
 * Runs the `open` package in a small Node child so that the launcher it starts (xdg-open,
 * open, PowerShell) inherits `env` rather than this process's environment: `open` spawns
 * with `process.env` and takes no env option, and nothing here edits `process.env`
 * (docs/architecture.md "Layers"). The child reports the launcher's exit code over IPC
 * (`{ code }`, or `{ error }` when it could not start one) and ends when the launcher
 * does or when this process goes away. Costs one Node start per browser sign-in.
 */
const OPEN_CHILD = `
const [openPath, url] = process.argv.slice(1);
const report = (m) => { try { process.send(m, () => process.exit(0)); } catch { process.exit(0); } };
process.on('disconnect', () => process.exit(0));
import(openPath).then(({ default: open }) => open(url, { wait: false })).then((launcher) => {
  if (launcher.exitCode !== null) return report({ code: launcher.exitCode });
  launcher.once('exit', (code) => report({ code: code ?? 1 }));
}, (e) => report({ error: String((e && e.code) || (e && e.message) || e) }));
`;

function launchWithOpen(url: string, env: NodeJS.ProcessEnv): { first: Promise<number | undefined>; exit: Promise<number> } {
  const child = spawn(process.execPath, ['-e', OPEN_CHILD, pathToFileURL(require.resolve('open')).href, url], {
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env,
    windowsHide: true,
  });
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) => reject(new AuthError('AUTH_FAILED', `Could not launch a browser: ${e.code ?? e.message}.`)));
    child.once('message', (m: { code?: number; error?: string }) => {
      if (m.error !== undefined) reject(new AuthError('AUTH_FAILED', `Could not launch a browser: ${m.error}.`));
      else resolve(m.code ?? 0);
    });
    // After any message: the channel closes once everything sent on it has been read.
    child.once('disconnect', () => reject(new AuthError('AUTH_FAILED', 'Could not launch a browser: the launcher helper ended without an answer.')));
  });
  // Neither the helper nor its channel keeps this process alive.
  child.unref();
  child.channel?.unref();
  // `first`: the exit code if the launcher ended within 1.5 s (xdg-open fails at once when there
  // is no browser to start), else undefined (it is still trying, or it handed over to a browser).
  const first = Promise.race([exit, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1500))]);
  return { first, exit };
}

function systemBrowser(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, log: Logger): Browser {
  const command = env.AUTH_BROWSER || env.BROWSER;
  return {
    available() {
      if (command) return { ok: true, reason: `${env.AUTH_BROWSER ? 'AUTH_BROWSER' : 'BROWSER'} is set` };
      if (env.SSH_CONNECTION || env.SSH_TTY) return { ok: false, reason: 'this is an SSH session' };
      if (platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY) return { ok: false, reason: 'there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)' };
      return { ok: true, reason: 'a desktop session is available' };
    },
    async open(url, hide = [], lateFailure) {
      assertLaunchableUrl(url);
      const childEnv = { ...env };
      for (const name of [...BROWSER_UNSAFE_ENV, ...hide]) delete childEnv[name];
      if (command) {
        log.debug(`launching browser via ${env.AUTH_BROWSER ? 'AUTH_BROWSER' : 'BROWSER'}`);
        await new Promise<void>((resolve, reject) => {
          const child = spawn(command, [url], { stdio: 'ignore', detached: true, shell: false, windowsHide: true, env: childEnv });
          child.once('error', (e) => reject(new AuthError('AUTH_FAILED', `Could not launch the browser command "${command}": ${(e as NodeJS.ErrnoException).code ?? e.message}.`)));
          child.once('spawn', () => { child.unref(); resolve(); });
        });
        return;
      }
      // xdg-open / open exit at once with a non-zero code when there is no browser to start
      // (xdg-open: 3); that is a failed launch, which lets `auto` fall back to the device flow.
      // A launcher still running then (xdg-open trying one browser after another) may fail later:
      // that is reported through `lateFailure`, so the sign-in need not wait out its timeout.
      const failed = (code: number) => new AuthError('AUTH_FAILED', `Could not launch a browser: the launcher exited with code ${code}.`);
      const launch = launchWithOpen(url, childEnv);
      const code = await launch.first;
      if (code) throw failed(code);
      if (code === undefined) {
        launch.exit.then(
          (late) => { if (late) lateFailure?.(failed(late)); },
          (e: Error) => lateFailure?.(e),
        );
      }
    },
  };
}

/**
 * `auth agent start`: this auth run in the background, in its own session, with no stdio (its
 * opt-in log is AUTH_AGENT_LOG). `exited()`: it ended already (it could not start).
 */
export function startDetached(file: string, args: string[], env: NodeJS.ProcessEnv): { exited(): boolean } {
  const child = spawn(process.execPath, [file, ...args], { detached: true, stdio: 'ignore', env, windowsHide: true });
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  child.unref();
  return { exited: () => exited };
}
