import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, BIN, errorLine, type CliResult } from './support/cli.js';
import type { FakeAs, Reply } from './support/fake-as.js';
import { expectNoControlBytes, expectNothingStored, fakeSessions, type Session } from './support/security.js';
import { requireSystem } from './support/system.js';

// docs/security.md R60, R64, R67, R80, R104: requirements no other file tests by name.
// Fake-AS cases (one fake AS and one AUTH_HOME each) run concurrently; R80 runs the
// full cycle against the real oidc-provider sandbox under strace.

const setup = fakeSessions();

const grants = (fake: FakeAs) => fake.requestsTo('/token').map((r) => r.form.get('grant_type'));
const TOKEN_MARKER = /(?:AT|RT|IDT)_[0-9a-f]{8}-[0-9a-f]{4}-/;

/** A token-endpoint script: the fake's normal answer with some fields replaced. */
const withBody = (patch: Record<string, unknown>) => async (ctx: { defaultReply(): Promise<Reply> }): Promise<Reply> => {
  const reply = await ctx.defaultReply();
  return { ...reply, body: { ...(reply.body as Record<string, unknown>), ...patch } };
};

/** Logs in against the fake AS with an access token that is due for refresh on the next `auth token` (R36: < 60 s left). */
async function loginDue(fake: FakeAs, s: Session, extra: string[] = []): Promise<Record<string, unknown>> {
  fake.expiresIn = 30;
  const res = await s.login(fake, extra);
  expect(res.code, res.stderr).toBe(0);
  return s.stored()!;
}

describe('R60 never widen scope on refresh', () => {
  const refused: string[][] = [
    ['token', '--scope', 'admin'],
    ['token', '--scope=admin'],
    ['token', '--resource', 'https://x'],
    ['refresh', '--force', '--scope', 'admin'],
  ];
  for (const args of refused) {
    it.concurrent(`R60: \`auth ${args.join(' ')}\` is refused locally: exit 2, stdout empty, no token request, credential unchanged`, async () => {
      const { fake, s } = await setup();
      const before = await loginDue(fake, s);
      const res = await s.run(args);
      expect(res.code, res.stderr).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toMatch(/unknown option '--(scope|resource)/);
      expect(res.stderr).not.toContain('admin');
      expect(grants(fake)).toEqual(['authorization_code']);
      expect(s.stored()).toEqual(before);
      // The control: the same credential is due, so a plain `auth token` does refresh —
      // and even with AUTH_SCOPES asking for more, the refresh request asks for no scope beyond the grant.
      const plain = await s.run(['token'], { env: { AUTH_SCOPES: 'openid offline_access admin' } });
      expect(plain.code, plain.stderr).toBe(0);
      expect(grants(fake)).toEqual(['authorization_code', 'refresh_token']);
      const granted = String(before.scope).split(' ');
      const asked = fake.requestsTo('/token')[1]!.form.get('scope');
      if (asked !== null) for (const sc of asked.split(' ').filter(Boolean)) expect(granted).toContain(sc);
    });
  }
});

describe('R64 a DPoP-bound token is never passed off as Bearer', () => {
  // (R35 in security-token.test.ts covers token_type "mac" and a missing token_type; DPoP is the case R64 names.)
  for (const tokenType of ['DPoP', 'dpop']) {
    it.concurrent(`R64: a code exchange answered with token_type "${tokenType}" → exit ≠0, stdout empty, nothing stored`, async () => {
      const { fake, s } = await setup();
      fake.tokenScript.push(withBody({ token_type: tokenType }));
      const res = await s.login(fake);
      expect(res.code).not.toBe(0);
      expect(res.stdout).toBe('');
      expect(errorLine(res.stderr)).toMatch(/DPoP token; auth only handles Bearer/i);
      expect(res.stderr).not.toMatch(TOKEN_MARKER);
      expectNothingStored(s);
      expect(fake.issued.accessTokens).toHaveLength(1); // the token the fake issued was seen and discarded
      const token = await s.run(['token']);
      expect(token.code).toBe(4);
      expect(token.stdout).toBe('');
    });
  }

  it.concurrent('R64: `auth token` whose refresh is answered with token_type DPoP → exit ≠0, stdout empty, stored credential as it was', async () => {
    const { fake, s } = await setup();
    const before = await loginDue(fake, s);
    fake.tokenScript.push(withBody({ token_type: 'DPoP' }));
    const res = await s.run(['token']);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(errorLine(res.stderr)).toMatch(/DPoP token; auth only handles Bearer/i);
    expect(res.stderr).not.toMatch(TOKEN_MARKER);
    expect(grants(fake)).toEqual(['authorization_code', 'refresh_token']);
    const dpopToken = fake.issued.accessTokens[1]!;
    expect(s.allFilesText()).not.toContain(dpopToken);
    expect(s.stored()).toEqual(before);
    // The other output formats refuse it too.
    fake.tokenScript.push(withBody({ token_type: 'DPoP' }));
    const json = await s.run(['token', '--format', 'json']);
    expect(json.code).not.toBe(0);
    expect(json.stdout).toBe('');
  });

  it.concurrent('R64: `auth refresh --force` answered with token_type DPoP → exit ≠0, stored credential as it was', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored();
    fake.tokenScript.push(withBody({ token_type: 'DPoP' }));
    const res = await s.run(['refresh', '--force']);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(grants(fake)).toEqual(['authorization_code', 'refresh_token']);
    expect(s.stored()).toEqual(before);
  });
});

describe('R67 invalid_target is not papered over', () => {
  const RESOURCE = 'https://api.example/';
  const invalidTarget: Reply = { status: 400, body: { error: 'invalid_target', error_description: 'unknown resource' } };

  it.concurrent('R67: login --resource answered invalid_target → exit ≠0, stdout empty, nothing stored, one token request and it carried resource', async () => {
    const { fake, s } = await setup();
    fake.tokenScript.push(invalidTarget);
    const res = await s.login(fake, ['--resource', RESOURCE]);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(errorLine(res.stderr)).toContain('invalid_target');
    expectNothingStored(s);
    expect(fake.authorizations[0]!.params.getAll('resource')).toEqual([RESOURCE]);
    const tokens = fake.requestsTo('/token');
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.form.getAll('resource')).toEqual([RESOURCE]);
    // No second sign-in either.
    expect(fake.requestsTo('/authorize')).toHaveLength(1);
    expect((await s.run(['token'])).code).toBe(4);
  });

  it.concurrent('R67: a refresh of a credential with a resource answered invalid_target → exit ≠0, no request without resource, credential kept', async () => {
    const { fake, s } = await setup();
    const before = await loginDue(fake, s, ['--resource', RESOURCE]);
    expect(before.resources).toEqual([RESOURCE]);
    fake.tokenScript.push(invalidTarget);
    const res = await s.run(['token']);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(errorLine(res.stderr)).toContain('invalid_target');
    expect(grants(fake)).toEqual(['authorization_code', 'refresh_token']);
    expect(fake.requestsTo('/token')[1]!.form.getAll('resource')).toEqual([RESOURCE]);
    expect(s.stored()).toEqual(before);
    // refresh --force: the same, one more request, still with the resource.
    fake.tokenScript.push(invalidTarget);
    const forced = await s.run(['refresh', '--force']);
    expect(forced.code).not.toBe(0);
    expect(forced.stdout).toBe('');
    const refreshes = fake.requestsTo('/token').slice(1);
    expect(refreshes).toHaveLength(2);
    for (const r of refreshes) expect(r.form.getAll('resource')).toEqual([RESOURCE]);
    expect(s.stored()).toEqual(before);
  });
});

/* ------------------------------------------------------------------------------------ */
/* R80: per-user locations only.                                                          */
/* ------------------------------------------------------------------------------------ */

const straceWorks = (() => {
  try {
    return existsSync('/usr/bin/strace') && spawnSync('/usr/bin/strace', ['-f', '-qq', '-o', '/dev/null', 'true']).status === 0;
  } catch {
    return false;
  }
})();
const strace = requireSystem('strace', straceWorks, 'strace is not installed or ptrace is not permitted');

/** Every path under `dir` (files and directories), absolute. */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out.push(p);
    if (statSync(p).isDirectory()) out.push(...walk(p));
  }
  return out;
}

const WRITE_FLAGS = /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/;
const MUTATING = /^(mkdir|mkdirat|rename|renameat|renameat2|unlink|unlinkat|rmdir|link|linkat|symlink|symlinkat|truncate|chmod|fchmodat|fchmodat2|chown|fchownat|lchown|utimensat|mknod|mknodat|creat)$/;

/**
 * Paths the traced processes created, opened for writing, renamed, removed or changed
 * (strace -f -y: `-y` prints each dirfd's path, so dirfd-relative names resolve).
 */
function writtenPaths(traceFile: string, cwd: string): Array<{ call: string; path: string; line: string }> {
  const out: Array<{ call: string; path: string; line: string }> = [];
  for (const line of readFileSync(traceFile, 'utf8').split('\n')) {
    const m = line.match(/^\d+\s+(\w+)\((.*)$/);
    if (!m) continue;
    const [, call, rest] = m as unknown as [string, string, string];
    const isOpen = call === 'open' || call === 'openat' || call === 'openat2';
    if (isOpen ? !WRITE_FLAGS.test(rest) : !MUTATING.test(call)) continue;
    // Every quoted path argument, each with the dirfd just before it (`AT_FDCWD` or `5</dir>`).
    const re = /(?:(AT_FDCWD|\d+<([^>]*)>),\s*)?"((?:[^"\\]|\\.)*)"/g;
    for (const a of rest.matchAll(re)) {
      const raw = a[3]!.replace(/\\(.)/g, '$1');
      const base = a[2] ?? cwd;
      const path = isAbsolute(raw) ? raw : resolve(base, raw);
      out.push({ call, path, line });
    }
  }
  return out;
}

describe('R80 per-user locations only', () => {
  it.skipIf(strace.skip)('R80: login, token, refresh --force, logout with AUTH_HOME unset write only under $HOME/.config/authcli and $HOME/.local/state/authcli (strace and a file listing); the cwd stays empty', async () => {
    strace.assertAvailable();
    const sandbox = await startSandbox({ accessTokenTTL: 3600 });
    const root = mkdtempSync(join(tmpdir(), 'auth-r80-'));
    const home = join(root, 'home');
    const cwd = join(root, 'cwd');
    const traces = join(root, 'traces');
    for (const d of [home, cwd, traces]) mkdirSync(d);
    const allowed = [join(home, '.config', 'authcli'), join(home, '.local', 'state', 'authcli')];
    const inside = (p: string) => allowed.some((a) => p === a || p.startsWith(a + sep));
    // `mkdir -p` of the per-user dirs creates their parents ($HOME/.config, $HOME/.local, $HOME/.local/state).
    const parents = new Set([join(home, '.config'), join(home, '.local'), join(home, '.local', 'state')]);
    // baseEnv sets HOME and AUTH_HOME to `home`; undefined deletes a variable, so AUTH_HOME and the XDG overrides are unset.
    const env = baseEnv(home, { AUTH_HOME: undefined, XDG_CONFIG_HOME: undefined, XDG_STATE_HOME: undefined, XDG_CACHE_HOME: undefined, XDG_RUNTIME_DIR: undefined, AUTH_STORAGE: 'file' });
    expect(env.AUTH_HOME).toBeUndefined();
    expect(env.HOME).toBe(home);
    let n = 0;
    const traced = (args: string[]): Promise<CliResult & { trace: string }> => {
      const trace = join(traces, `${n++}-${args[0]}.strace`);
      const child = spawn('/usr/bin/strace', ['-f', '-qq', '-y', '-e', 'trace=%file', '-o', trace, process.execPath, BIN, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      return new Promise((done) => child.on('close', (code, signal) => {
        clearTimeout(timer);
        done({ code, signal, stdout, stderr, trace });
      }));
    };
    try {
      const steps: Array<[string[], number]> = [
        [['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], 0],
        [['token'], 0],
        [['status'], 0],
        [['refresh', '--force'], 0],
        [['token', '--min-ttl', '0'], 0],
        [['logout'], 0],
      ];
      const outside: string[] = [];
      let written = 0;
      for (const [args, want] of steps) {
        const res = await traced(args);
        expect(res.code, `auth ${args.join(' ')}: ${res.stderr}`).toBe(want);
        if (args[0] === 'token') expect(res.stdout).toMatch(/^\S+\n$/);
        for (const w of writtenPaths(res.trace, cwd)) {
          if (w.path.startsWith('/dev/') || w.path.startsWith('/proc/')) continue; // /dev/null, /dev/tty, /proc/self/…
          written++;
          if (inside(w.path)) continue;
          if (parents.has(w.path) && (w.call === 'mkdir' || w.call === 'mkdirat')) continue;
          outside.push(`auth ${args[0]}: ${w.line}`);
        }
      }
      expect(outside).toEqual([]);
      expect(written, 'the trace saw the credential being written').toBeGreaterThan(0);
      // The sandbox saw the whole cycle (the refresh and the revocation went to the provider).
      const events = sandbox.events as Array<{ type: string; grantType?: string }>;
      expect(events.filter((e) => e.type === 'grant.success').map((e) => e.grantType)).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
      expect(events.filter((e) => e.type === 'revocation.success').length).toBeGreaterThan(0);
      // Independent of the trace: what is on disk afterwards.
      const onDisk = walk(home).filter((p) => !parents.has(p));
      expect(onDisk.filter((p) => !inside(p))).toEqual([]);
      expect(onDisk.some((p) => p.endsWith('config.yaml'))).toBe(true);
      expect(readdirSync(cwd)).toEqual([]);
    } finally {
      await sandbox.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 240_000);
});

/* ------------------------------------------------------------------------------------ */
/* R104: the browser launch cannot inject commands.                                       */
/* ------------------------------------------------------------------------------------ */

/** Query payloads from docs/security.md R104, plus path payloads that reach the launcher unencoded. */
const QUERY_PAYLOADS = ['$(touch PWNED)', '`touch PWNED2`', ';touch PWNED3', '^&touch PWNED4'];
const PATH_PAYLOADS = ['/a;touch$IFS./PWNED5', '/a$(touch$IFS./PWNED6)'];

function pwnedFiles(...dirs: string[]): string[] {
  return dirs.flatMap((d) => readdirSync(d, { recursive: true }).map(String).filter((f) => /PWNED/.test(f)));
}

/** A device authorization endpoint answering with the given verification URIs (the fake AS's own is fixed). */
async function deviceEndpoint(body: (base: string) => Record<string, unknown>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ device_code: `DC_${crypto.randomUUID()}`, user_code: 'WDJB-MJHT', expires_in: 60, interval: 1, ...body(base) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/device_authorization`, server };
}

describe('R104 browser launch cannot inject commands', () => {
  const cases = [
    ...QUERY_PAYLOADS.map((p) => ({ name: `?x=${p}`, endpoint: (base: string) => `${base}/a?x=${p}`, raw: undefined })),
    ...PATH_PAYLOADS.map((p) => ({ name: p, endpoint: (base: string) => `${base}${p}`, raw: p })),
  ];
  for (const c of cases) {
    it.concurrent(`R104: authorization_endpoint …${c.name} → refused, or the test browser gets exactly one argument equal to the printed URL; nothing executed`, async () => {
      const { fake, s } = await setup();
      const cwd = mkdtempSync(join(tmpdir(), 'auth-r104-'));
      try {
        fake.metadata.authorization_endpoint = c.endpoint(fake.base);
        // The test browser only records its argv (FAKE_BROWSER_MODE=none); the sign-in then times out.
        const res = await s.login(fake, ['--browser', '--timeout', '3'], { cwd, env: { FAKE_BROWSER_MODE: 'none' } });
        expect(res.code).not.toBe(0);
        expect(res.stdout).toBe('');
        expectNoControlBytes(res.stderr);
        const entries = await s.browserDone(0);
        const launches = entries.filter((e) => 'argv' in e).map((e) => e.argv as string[]);
        if (launches.length === 0) {
          // Rejected: with a clear message, before any browser ran.
          expect(errorLine(res.stderr)).toMatch(/Refusing to open|malformed|not completed|invalid/i);
        } else {
          expect(launches).toHaveLength(1);
          const printed = res.stderr.match(/Open this URL in your browser to sign in:\n {2}(\S+)\n/)?.[1];
          expect(printed, res.stderr).toBeDefined();
          expect(launches[0]).toEqual([printed]);
          const launched = new URL(launches[0]![0]!);
          expect(launched.origin).toBe(fake.base);
          // The path payloads reach the launcher unencoded: shell metacharacters in the one argument.
          if (c.raw) expect(launched.pathname).toBe(c.raw);
        }
        expect(pwnedFiles(cwd, s.home)).toEqual([]);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  }

  const deviceCases = [...QUERY_PAYLOADS.map((p) => `?x=${p}`), ...PATH_PAYLOADS];
  for (const payload of deviceCases) {
    it.concurrent(`R104: device verification_uri[_complete] …${payload} → no browser launched, the printed URI is the parsed URL without control bytes; nothing executed`, async () => {
      const { fake, s } = await setup();
      const cwd = mkdtempSync(join(tmpdir(), 'auth-r104d-'));
      const hostile = (base: string) => `${base}${payload.startsWith('?') ? `/device${payload}` : payload}`;
      const device = await deviceEndpoint((base) => ({
        verification_uri: `${hostile(base)}\u001b[2J`,
        verification_uri_complete: `${hostile(base)}&user_code=WDJB-MJHT\u001b]52;c;AAAA\u0007`,
      }));
      try {
        fake.metadata.device_authorization_endpoint = device.url;
        const res = await s.login(fake, ['--device'], { cwd, env: { FAKE_BROWSER_MODE: 'none' } });
        expect(res.stdout).toBe('');
        expectNoControlBytes(res.stderr);
        const shown = res.stderr.match(/To sign in, open (\S+) and enter the code: (\S+)/);
        if (res.code === 0) {
          expect(shown, res.stderr).not.toBeNull();
          const base = new URL(device.url).origin;
          // The URI as WHATWG URL serialises it (spaces and control bytes percent-encoded), nothing else.
          expect(shown![1]).toBe(new URL(`${hostile(base)}\u001b[2J`).href);
          expect(shown![2]).toBe('WDJB-MJHT');
        } else {
          expect(errorLine(res.stderr)).toMatch(/verification_uri/);
        }
        // The device flow never launches a browser (docs/design.md §2: it prints the URI and, on a TTY, a QR code).
        expect(await s.browserDone(0)).toEqual([]);
        expect(pwnedFiles(cwd, s.home)).toEqual([]);
      } finally {
        await new Promise<void>((r) => { device.server.closeAllConnections(); device.server.close(() => r()); });
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  }
});
