import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, makeHome, ROOT, runCli, type CliResult } from './support/cli.js';
import { requireSystem } from './support/system.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// docs/design.md §7: `auth token` with a valid stored token is answered by the small
// entry bundle without loading the full CLI. These tests hold the fast path to
// the slow one: same bytes on stdout and stderr, same exit code, for every
// format — and every case it must not answer goes to the full CLI.
const PROBE = join(ROOT, 'test', 'support', 'fast-probe.cjs');
const SLOW = join(ROOT, 'test', 'support', 'slow-cli.cjs');

function runScript(script: string, args: string[], home: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env: baseEnv(home, env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs bin/auth.js and reports which path answered. */
async function probed(args: string[], home: string, env: Record<string, string | undefined> = {}): Promise<CliResult & { path: string }> {
  const out = join(home, `probe-${process.hrtime.bigint()}`);
  const res = await runCli(args, { home, env: { ...env, NODE_OPTIONS: `--require ${PROBE}`, AUTH_PROBE_OUT: out } });
  const path = existsSync(out) ? readFileSync(out, 'utf8').trim() : 'none';
  rmSync(out, { force: true });
  return { ...res, path };
}

const slow = (args: string[], home: string, env: Record<string, string | undefined> = {}) => runScript(SLOW, args, home, env);

describe('auth token fast path (file store)', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-fast-');
  const credFile = join(home, 'credentials', 'default.json');
  const configFile = join(home, 'config.yaml');

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
    // The first `auth token` after a config change is the full CLI, which indexes config.yaml.
    expect((await probed(['token'], home)).path).toBe('slow');
    expect(existsSync(join(home, 'cache', 'config-index.json'))).toBe(true);
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  const cases: string[][] = [
    ['token'],
    ['token', '--format', 'raw'],
    ['token', '--format', 'json'],
    ['token', '--format=header'],
    ['token', '--id-token'],
    ['token', '--min-ttl', '60', '--no-refresh'],
    ['-p', 'default', 'token'],
    ['token', '--profile=default', '--no-color'],
  ];
  for (const args of cases) {
    it(`\`auth ${args.join(' ')}\`: answered without the full CLI, byte-identical to it (R81)`, async () => {
      const fast = await probed(args, home);
      expect(fast.path).toBe('fast');
      const full = await slow(args, home);
      expect({ code: fast.code, stdout: fast.stdout, stderr: fast.stderr }).toEqual({ code: full.code, stdout: full.stdout, stderr: full.stderr });
      expect(fast.code).toBe(0);
      expect(fast.stderr).toBe('');
      expect(fast.stdout).toMatch(/^\S[^\n]*\n$/);
    });
  }

  it('the JSON shape is the documented one, from the stored credential', async () => {
    const res = await probed(['token', '--format', 'json'], home);
    const stored = JSON.parse(readFileSync(credFile, 'utf8'));
    expect(JSON.parse(res.stdout)).toEqual({ access_token: stored.access_token, token_type: stored.token_type, expires_at: stored.expires_at, scope: stored.scope });
  });

  const fallbacks: [string, string[], Record<string, string | undefined>, number][] = [
    ['not logged in (another profile)', ['token', '-p', 'other'], {}, 4],
    ['an unknown option', ['token', '--bogus'], {}, 2],
    ['help', ['token', '--help'], {}, 0],
    ['--debug', ['--debug', 'token'], {}, 0],
    ['a bad --format', ['token', '--format', 'xml'], {}, 2],
    ['an invalid AUTH_STORAGE', ['token'], { AUTH_STORAGE: 'vault' }, 2],
    ['an insecure AUTH_ISSUER', ['token'], { AUTH_ISSUER: 'http://example.com' }, 2],
    ['NODE_TLS_REJECT_UNAUTHORIZED=0 (R03)', ['token'], { NODE_TLS_REJECT_UNAUTHORIZED: '0' }, 2],
  ];
  for (const [what, args, env, exit] of fallbacks) {
    it(`${what}: the full CLI answers, with its own output and exit code ${exit}`, async () => {
      const fast = await probed(args, home, env);
      expect(fast.path).toBe('slow');
      const full = await slow(args, home, env);
      expect({ code: fast.code, stdout: fast.stdout, stderr: fast.stderr }).toEqual({ code: full.code, stdout: full.stdout, stderr: full.stderr });
      expect(fast.code).toBe(exit);
      if (exit !== 0) expect(fast.stdout).toBe('');
    });
  }

  it('a config.yaml edited by hand is noticed: the full CLI reads it, then the fast path resumes', async () => {
    const original = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, `${original}# a comment\n`, { mode: 0o600 });
    const first = await probed(['token'], home);
    expect(first.path).toBe('slow');
    expect(first.code).toBe(0);
    const second = await probed(['token'], home);
    expect(second.path).toBe('fast');
    expect(second.stdout).toBe(first.stdout);
    // A profile that changes storage to one the fast path leaves alone.
    writeFileSync(configFile, original.replace('clientId: auth-cli', 'clientId: auth-cli\n    storage: encrypted-file'), { mode: 0o600 });
    const pinned = await probed(['token'], home, { AUTH_STORAGE: undefined });
    expect(pinned.path).toBe('slow');
    writeFileSync(configFile, original, { mode: 0o600 });
  });

  it('a broken config.yaml is reported by the full CLI (exit 2), never served from the index', async () => {
    const original = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, `${original}  bogusField: 1\n`, { mode: 0o600 });
    const res = await probed(['token'], home);
    expect(res.path).toBe('slow');
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('config.yaml');
    writeFileSync(configFile, original, { mode: 0o600 });
    expect((await probed(['token'], home)).code).toBe(0);
  });

  it('MFA on for the profile (state file present): the guard in the full CLI decides (exit 4 without a TTY)', async () => {
    const mfaDir = join(home, 'mfa');
    mkdirSync(mfaDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(mfaDir, 'default.json'), '{}', { mode: 0o600 });
    try {
      const res = await probed(['token'], home);
      expect(res.path).toBe('slow');
      expect(res.code).toBe(4);
      expect(res.stdout).toBe('');
    } finally {
      rmSync(mfaDir, { recursive: true, force: true });
    }
  });

  it('a token due for refresh goes to the full CLI, which refreshes it (R83)', async () => {
    const stored = JSON.parse(readFileSync(credFile, 'utf8'));
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(credFile, JSON.stringify({ ...stored, obtained_at: now - 3600, expires_at: now + 30 }), { mode: 0o600 });
    const grants = sandbox.grants('refresh_token');
    const res = await probed(['token'], home);
    expect(res.path).toBe('slow');
    expect(res.code).toBe(0);
    expect(sandbox.grants('refresh_token') - grants).toBe(1);
    expect(res.stdout.trim()).not.toBe(stored.access_token);
    expect((await sandbox.userinfo(res.stdout.trim())).status).toBe(200);
  });

  it('a credential file other users can read is left to the full CLI, which tightens it (R75)', async () => {
    chmodSync(credFile, 0o644);
    const res = await probed(['token'], home);
    expect(res.path).toBe('slow');
    expect(res.code).toBe(0);
    expect(readFileSync(credFile).length).toBeGreaterThan(0);
    expect(spawnSync('stat', ['-c', '%a', credFile], { encoding: 'utf8' }).stdout.trim()).toBe('600');
    expect((await probed(['token'], home)).path).toBe('fast');
  });

  it('on a terminal both paths print the same warning on stderr before the token (R89)', async () => {
    const hasScript = spawnSync('sh', ['-c', 'command -v script']).status === 0;
    if (!hasScript || process.platform !== 'linux') return;
    const env = baseEnv(home);
    const viaPty = (cmd: string) => spawnSync('script', ['-qec', cmd, '/dev/null'], { env, encoding: 'utf8' }).stdout.replace(/\r/g, '');
    const fastOut = viaPty(`${process.execPath} ${join(ROOT, 'bin', 'auth.js')} token`);
    const slowOut = viaPty(`${process.execPath} ${SLOW} token`);
    expect(fastOut).toContain('This token grants access to your account');
    expect(fastOut).toBe(slowOut);
  });
});

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const keyring = requireSystem('Secret Service', process.platform === 'linux' && has('dbus-run-session') && has('gnome-keyring-daemon'), 'dbus-run-session and gnome-keyring-daemon are needed for a private Secret Service');

describe.skipIf(keyring.skip)('auth token fast path (keychain store, real Secret Service)', () => {
  let sandbox: Sandbox;
  let session: ChildProcess;
  let bus = '';
  const { home, cleanup } = makeHome('auth-fast-kc-');
  const env = () => ({ DBUS_SESSION_BUS_ADDRESS: bus, AUTH_STORAGE: undefined });

  beforeAll(async () => {
    keyring.assertAvailable();
    const keyringHome = join(home, 'keyring');
    mkdirSync(join(keyringHome, 'run'), { recursive: true, mode: 0o700 });
    const busFile = join(keyringHome, 'bus');
    session = spawn('dbus-run-session', ['--', 'sh', '-c',
      `export HOME="${keyringHome}" XDG_DATA_HOME="${keyringHome}/data" XDG_RUNTIME_DIR="${keyringHome}/run"; ` +
      `printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; ` +
      `echo "$DBUS_SESSION_BUS_ADDRESS" > "${busFile}"; exec sleep 600`], { detached: true, stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!existsSync(busFile) || !readFileSync(busFile, 'utf8').trim()) {
      if (Date.now() > deadline) throw new Error('the private D-Bus session did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    bus = readFileSync(busFile, 'utf8').trim();
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home, env: env() });
    expect(login.code, login.stderr).toBe(0);
    expect(existsSync(join(home, 'credentials', 'default.json'))).toBe(false);
    await runCli(['token'], { home, env: env() });
  });
  afterAll(async () => {
    await sandbox?.close();
    if (session?.pid) try { process.kill(-session.pid, 'SIGTERM'); } catch { /* gone */ }
    cleanup();
  });

  for (const args of [['token'], ['token', '--format', 'json']]) {
    it(`\`auth ${args.join(' ')}\` reads the keychain without the full CLI, byte-identical to it`, async () => {
      const fast = await probed(args, home, env());
      expect(fast.path).toBe('fast');
      const full = await slow(args, home, env());
      expect({ code: fast.code, stdout: fast.stdout, stderr: fast.stderr }).toEqual({ code: full.code, stdout: full.stdout, stderr: full.stderr });
      expect(fast.code).toBe(0);
    });
  }

  it('not logged in for a profile: the full CLI answers (exit 4), identically', async () => {
    const fast = await probed(['token', '-p', 'nobody'], home, env());
    expect(fast.path).toBe('slow');
    const full = await slow(['token', '-p', 'nobody'], home, env());
    expect({ code: fast.code, stdout: fast.stdout, stderr: fast.stderr }).toEqual({ code: full.code, stdout: full.stdout, stderr: full.stderr });
    expect(fast.code).toBe(4);
  });
});
