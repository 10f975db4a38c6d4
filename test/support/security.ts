import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, expect } from 'vitest';
import { startFakeAs, type FakeAs } from './fake-as.js';
import { currentRelay } from './browser-relay.js';
import { makeHome, runCli, spawnCli, type CliOptions, type CliResult } from './cli.js';

/** Helpers shared by test/security-*.test.ts (the CLI against test/support/fake-as.ts). */
export const FAKE_BROWSER = resolve(import.meta.dirname, 'fake-browser.mjs');

export interface Session {
  home: string;
  browserLog: string;
  cleanup(): Promise<void>;
  /** Env for the CLI: the fake browser, logging to browserLog. */
  env(extra?: Record<string, string | undefined>): Record<string, string | undefined>;
  run(args: string[], opts?: Partial<CliOptions>): Promise<CliResult>;
  spawn(args: string[], opts?: Partial<CliOptions>): ReturnType<typeof spawnCli>;
  login(fake: FakeAs, extraArgs?: string[], opts?: Partial<CliOptions>): Promise<CliResult>;
  spawnLogin(fake: FakeAs, extraArgs?: string[], opts?: Partial<CliOptions>): ReturnType<typeof spawnCli>;
  /** The stored credential as on disk (snake_case), or undefined. */
  stored(profile?: string): Record<string, unknown> | undefined;
  /** Every file under AUTH_HOME, concatenated (marker greps). */
  allFilesText(): string;
  browserEntries(): Array<Record<string, unknown>>;
  /** Resolves when at least `launches` test browsers ran and each has logged its result (it outlives the CLI). */
  browserDone(launches?: number, timeoutMs?: number): Promise<Array<Record<string, unknown>>>;
}

export function session(browserMode: 'follow' | 'authorize' | 'none' = 'follow'): Session {
  const { home } = makeHome('auth-sec-');
  const browserLog = join(home, 'browser.log');
  const env = (extra: Record<string, string | undefined> = {}) => ({
    AUTH_BROWSER: currentRelay()?.browser('fake') ?? FAKE_BROWSER,
    FAKE_BROWSER_LOG: browserLog,
    FAKE_BROWSER_MODE: browserMode,
    ...extra,
  });
  const merge = (opts: Partial<CliOptions> = {}): CliOptions => ({ ...opts, home, env: env(opts.env) });
  const s: Session = {
    home,
    browserLog,
    cleanup: async () => {
      // A test browser may outlive the CLI and still write its last log line: let it finish first.
      await s.browserDone(0).catch(() => undefined);
      rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    },
    env,
    run: (args, opts) => runCli(args, merge(opts)),
    spawn: (args, opts) => spawnCli(args, merge(opts)),
    login: (fake, extraArgs = [], opts) => runCli(['login', '--issuer', fake.issuer, '--client-id', fake.clientId, ...extraArgs], merge(opts)),
    spawnLogin: (fake, extraArgs = [], opts) => spawnCli(['login', '--issuer', fake.issuer, '--client-id', fake.clientId, ...extraArgs], merge(opts)),
    stored: (profile = 'default') => {
      const file = join(home, 'credentials', `${profile}.json`);
      return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
    },
    allFilesText: () => listFiles(home).filter((f) => f !== browserLog).map((f) => readFileSync(f, 'latin1')).join('\n'),
    browserEntries: () => (existsSync(browserLog) ? readFileSync(browserLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : []),
    browserDone: async (launches = 1, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const entries = s.browserEntries();
        const launched = entries.filter((e) => 'argv' in e).length;
        if (launched >= launches && entries.length === launched * 2) return entries;
        if (Date.now() > deadline) throw new Error('the test browser did not finish');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  return s;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...listFiles(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** Nothing stored: no credential file anywhere under AUTH_HOME/credentials. */
export function expectNothingStored(s: Session): void {
  const dir = join(s.home, 'credentials');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')) : [];
  expect(files, 'no credential may be stored').toEqual([]);
}

/** stderr carries no terminal control bytes: ESC, BEL, CSI (0x9B) or bidi overrides (R31, R105). */
export function expectNoControlBytes(text: string): void {
  // eslint-disable-next-line no-control-regex
  expect(text).not.toMatch(/[\u001b\u0007\u009b\u202e\u202d]/);
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

/**
 * Sends exact bytes to 127.0.0.1:port (no client normalisation of paths,
 * Host or request targets) and reads the answer until the server closes.
 */
export function rawRequest(port: number, request: string, host = '127.0.0.1'): Promise<RawResponse> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let body = rest.join('\r\n\r\n');
      if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
      resolvePromise({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body, raw });
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) break;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) break;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
  return out;
}

/** A GET with the request target and headers exactly as given. */
export function rawGet(port: number, target: string, opts: { method?: string; host?: string; headers?: string[]; body?: string } = {}): Promise<RawResponse> {
  const lines = [`${opts.method ?? 'GET'} ${target} HTTP/1.1`, `Host: ${opts.host ?? `127.0.0.1:${port}`}`, 'Connection: close', ...(opts.headers ?? [])];
  if (opts.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(opts.body)}`);
  return rawRequest(port, `${lines.join('\r\n')}\r\n\r\n${opts.body ?? ''}`);
}

/** Resolves true when a TCP connection to host:port is refused. */
export function connectionRefused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host, port });
    socket.on('connect', () => {
      socket.destroy();
      resolvePromise(false);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => resolvePromise(e.code === 'ECONNREFUSED'));
  });
}

/** The loopback callback the fake AS redirected the (non-following) browser to. */
export async function awaitRedirect(fake: FakeAs, n = 1): Promise<URL> {
  await fake.waitForRequest('/authorize', n);
  const loc = fake.authorizations[n - 1]?.location;
  if (!loc) throw new Error('the fake AS issued no redirect');
  return new URL(loc);
}

/** Target (path + query) of a callback URL. */
export const targetOf = (url: URL) => `${url.pathname}${url.search}`;

type BrowserMode = 'follow' | 'authorize' | 'none';
type FreshSession = (mode?: BrowserMode) => Promise<{ fake: FakeAs; s: Session }>;

/** Starts a fake AS and a session against it, registering both in `cleanups`. */
function sessionFactory(cleanups: Array<() => unknown>): FreshSession {
  return async (mode: BrowserMode = 'follow') => {
    const fake = await startFakeAs();
    const s = session(mode);
    cleanups.push(() => fake.close(), () => s.cleanup());
    return { fake, s };
  };
}

const closeAll = async (cleanups: Array<() => unknown>) => {
  for (const c of cleanups.splice(0).reverse()) await c();
};

/**
 * Per-test fake AS + session: everything registered is closed after each test (in reverse),
 * and `cleanups` takes whatever else a test starts (another server, a child process).
 */
export function fakeSessionsEach(): { setup: FreshSession; cleanups: Array<() => unknown> } {
  const cleanups: Array<() => unknown> = [];
  afterEach(() => closeAll(cleanups));
  return { setup: sessionFactory(cleanups), cleanups };
}

export interface FakeSessions extends FreshSession {
  /** A fresh session, signed in already (the login is asserted to succeed). */
  loggedIn(env?: Record<string, string | undefined>): Promise<{ fake: FakeAs; s: Session }>;
}

/** A per-file factory of fresh fake-AS sessions; all are closed after the file's tests. */
export function fakeSessions(): FakeSessions {
  const cleanups: Array<() => unknown> = [];
  afterAll(() => closeAll(cleanups));
  const fresh = sessionFactory(cleanups);
  const loggedIn = async (env: Record<string, string | undefined> = {}) => {
    const { fake, s } = await fresh();
    const res = await s.login(fake, [], { env });
    expect(res.code, res.stderr).toBe(0);
    return { fake, s };
  };
  return Object.assign(fresh, { loggedIn });
}
