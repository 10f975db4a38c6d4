import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeHome, runCli } from './support/cli.js';
import { requireSystem } from './support/system.js';
import { grepTree, secretFromUri, spawnOpen, STEP_MS, totpAt, URI_PATTERN, waitFor } from './mfa-support.js';

// MFA and authenticator secrets in a real Secret Service (gnome-keyring in a
// private D-Bus session): nothing secret lands in a file, and a lost state
// file is still noticed because the keychain holds the secret (R91, R98).
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const keyring = requireSystem(
  'Secret Service',
  process.platform === 'linux' && has('dbus-run-session') && has('gnome-keyring-daemon'),
  process.platform === 'linux' ? 'dbus-run-session and gnome-keyring-daemon are needed for a private Secret Service' : `the Secret Service test runs on Linux only (this is ${process.platform})`,
);

describe.skipIf(keyring.skip)('MFA secrets in the OS keychain', () => {
  const { home, cleanup } = makeHome('auth-mfa-kc-');
  const keyringDir = makeHome('auth-mfa-keyring-');
  let session: ChildProcess;
  let bus = '';
  let now = Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000;
  const env = () => ({ DBUS_SESSION_BUS_ADDRESS: bus, AUTH_STORAGE: undefined, AUTH_TEST_NOW_MS: String(now) });
  const cli = (args: string[], input?: string) => runCli(args, { home, env: env(), ...(input !== undefined ? { input } : {}) });

  beforeAll(async () => {
    keyring.assertAvailable();
    const keyringHome = keyringDir.home;
    mkdirSync(join(keyringHome, 'run'), { recursive: true, mode: 0o700 });
    const busFile = join(keyringHome, 'bus');
    // A fresh login keyring unlocked with a throwaway password; the session lives until killed.
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
    rmSync(busFile);
  });
  afterAll(() => {
    if (session?.pid) try { process.kill(-session.pid, 'SIGTERM'); } catch { /* gone */ }
    cleanup();
    keyringDir.cleanup();
  });

  it('authenticator secrets go to the keychain, not to files', async () => {
    const add = await cli(['mfa', 'add', 'kc', '--secret', '-', '--digits', '8'], 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n');
    expect(add.code, add.stderr).toBe(0);
    expect(add.stderr).not.toContain('keychain is unavailable');
    const code = await runCli(['mfa', 'code', 'kc'], { home, env: { ...env(), AUTH_TEST_NOW_MS: '59000' } });
    expect(code.stdout).toBe('94287082\n');
    expect(existsSync(join(home, 'secrets'))).toBe(false);
    expect((await cli(['mfa', 'remove', 'kc'])).code).toBe(0);
    expect((await cli(['mfa', 'code', 'kc'])).code).toBe(2);
  });

  it('the MFA secret lives in the keychain; a deleted state file still fails closed (R98)', async () => {
    const p = spawnOpen(['mfa', 'setup'], home, env());
    const [uri] = await waitFor(p.child, p.stderrText, URI_PATTERN);
    const secret = secretFromUri(uri);
    p.child.stdin!.end(`${totpAt(secret, now)}\n`);
    const setup = await p.result;
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.stderr).toContain('keychain (service authcli, account mfa:default)');
    const codes = setup.stdout.trim().split('\n');
    // On disk: the state file, no secrets directory, and the secret in no file of ours.
    expect(existsSync(join(home, 'mfa', 'default.json'))).toBe(true);
    expect(existsSync(join(home, 'secrets'))).toBe(false);
    expect(grepTree(home, secret)).toEqual([]);

    rmSync(join(home, 'mfa', 'default.json'));
    now += STEP_MS;
    const status = JSON.parse((await cli(['mfa', 'status', '--json'])).stdout);
    expect(status).toMatchObject({ enabled: true, state: 'locked', storage: 'keychain' });
    const totp = await cli(['mfa', 'unlock'], `${totpAt(secret, now)}\n`);
    expect(totp.code).toBe(4);
    expect(totp.stderr).toMatch(/use a backup code/i);
    const backup = await cli(['mfa', 'unlock'], `${codes[0]}\n`);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr).toContain('9 backup codes left');

    now += 2 * STEP_MS;
    const off = await cli(['mfa', 'disable'], `${totpAt(secret, now)}\n`);
    expect(off.code, off.stderr).toBe(0);
    expect(JSON.parse((await cli(['mfa', 'status', '--json'])).stdout).enabled).toBe(false);
  });

  it('the recovery recipe in docs/mfa.md (secret-tool, then the state file) really removes the factor', async () => {
    const recipe = readFileSync(join(__dirname, '..', 'docs', 'mfa.md'), 'utf8').match(/`(secret-tool clear service authcli [^`]+mfa:default)`/)?.[1];
    expect(recipe).toBeDefined();
    const p = spawnOpen(['mfa', 'setup', '-p', 'rec'], home, env());
    const [uri] = await waitFor(p.child, p.stderrText, URI_PATTERN);
    p.child.stdin!.end(`${totpAt(secretFromUri(uri), now)}\n`);
    expect((await p.result).code).toBe(0);
    const search = () => spawnSync('secret-tool', ['search', '--all', 'service', 'authcli'], { env: { PATH: process.env.PATH, DBUS_SESSION_BUS_ADDRESS: bus }, encoding: 'utf8' }).stderr;
    expect(search()).toContain('mfa:rec');
    const run = spawnSync('sh', ['-c', recipe!.replace('mfa:default', 'mfa:rec')], { env: { PATH: process.env.PATH, DBUS_SESSION_BUS_ADDRESS: bus }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(search()).not.toContain('mfa:rec');
    rmSync(join(home, 'mfa', 'rec.json'));
    expect(JSON.parse((await cli(['mfa', 'status', '-p', 'rec', '--json'])).stdout)).toMatchObject({ enabled: false, state: 'off' });
  });
});
