import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, runCli, filesContaining } from './support/cli.js';
import { keyringRequirement, startPrivateKeyring, type PrivateKeyring } from './support/keyring.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// The built CLI against a real Secret Service: a private gnome-keyring on a
// private D-Bus (test/support/keyring.ts), never the developer's own keyring.
// secret-tool, in the same private bus, is the independent witness of what
// the keychain holds (docs/design.md §4, docs/security.md R73).


const keyring = keyringRequirement();

describe.skipIf(keyring.skip)('credentials in the OS keychain (private gnome-keyring)', () => {
  let sandbox: Sandbox;
  let kr: PrivateKeyring;
  const { home, cleanup } = makeHome('auth-kc-');
  // Default storage (baseEnv pins `file` for the other suites) and the private bus.
  const env = (extra: Record<string, string | undefined> = {}) => ({ AUTH_STORAGE: undefined, ...kr.env, ...extra });
  const cli = (args: string[], extra: Record<string, string | undefined> = {}) => runCli(args, { home, env: env(extra) });
  const login = (extra: Record<string, string | undefined> = {}, profile = 'default') =>
    cli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli', ...(profile === 'default' ? [] : ['-p', profile])], extra);
  const stored = (profile = 'default') => {
    const text = kr.lookup(profile);
    return text === undefined ? undefined : (JSON.parse(text) as { access_token: string; refresh_token?: string });
  };
  const credFile = (profile = 'default') => join(home, 'credentials', `${profile}.json`);

  beforeAll(async () => {
    keyring.assertAvailable();
    [kr, sandbox] = await Promise.all([startPrivateKeyring(), startSandbox({ accessTokenTTL: 3600 })]);
  });
  afterAll(async () => {
    await Promise.all([kr?.stop(), sandbox?.close()]);
    cleanup();
  });

  it('login stores the credential in the keychain and writes no credential file, no warning (R73)', async () => {
    const res = await login();
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('✓ Logged in to');
    expect(res.stderr).not.toMatch(/keychain is unavailable/i);
    expect(kr.accounts()).toEqual(['default']);
    const cred = stored()!;
    expect(cred.access_token).toBeTruthy();
    expect(cred.refresh_token).toBeTruthy();
    expect(existsSync(credFile())).toBe(false);
    // The stored JSON never lands on disk in plain text: no file under AUTH_HOME holds either token.
    expect(filesContaining(home, cred.access_token)).toEqual([]);
    expect(filesContaining(home, cred.refresh_token!)).toEqual([]);
  });

  it('status names the keychain as the store; --json says "keychain"', async () => {
    const res = await cli(['status']);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/Storage:\s+OS keychain \(service authcli, account default\)/);
    const json = JSON.parse((await cli(['status', '--json'])).stdout);
    expect(json.profiles[0]).toMatchObject({ name: 'default', storage: 'keychain', loggedIn: true });
  });

  it('token prints the access token from the keychain, and the provider accepts it', async () => {
    const res = await cli(['token']);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${stored()!.access_token}\n`);
    expect((await sandbox.userinfo(res.stdout.trim())).status).toBe(200);
  });

  it('refresh --force rotates the tokens in the keychain; still no file', async () => {
    const before = stored()!;
    const res = await cli(['refresh', '--force']);
    expect(res.code).toBe(0);
    const after = stored()!;
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(existsSync(credFile())).toBe(false);
    expect((await cli(['token'])).stdout).toBe(`${after.access_token}\n`);
    expect(filesContaining(home, after.refresh_token!)).toEqual([]);
  });

  it('logout revokes and removes the keychain entry; status then says not logged in', async () => {
    const { access_token } = stored()!;
    const res = await cli(['logout']);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('revoked at server and removed locally');
    expect(kr.accounts()).toEqual([]);
    expect((await sandbox.introspect(access_token)).active).toBe(false);
    const status = await cli(['status']);
    expect(status.code).toBe(4);
    expect(status.stderr).toContain('Not logged in');
  });

  it('no Secret Service → login falls back to the file with one warning naming it; token and refresh stay quiet (R73)', async () => {
    const noBus = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(home, 'no-such-bus')}` };
    const res = await login(noBus, 'fallback');
    expect(res.code).toBe(0);
    const warnings = res.stderr.split('\n').filter((l) => l.includes('keychain is unavailable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(credFile('fallback'));
    expect(res.stderr).toContain('gnome-keyring-daemon --unlock --components=secrets');
    expect(JSON.parse(readFileSync(credFile('fallback'), 'utf8')).access_token).toBeTruthy();
    expect(kr.accounts()).toEqual([]);
    const token = await cli(['token', '-p', 'fallback'], noBus);
    expect(token.code).toBe(0);
    expect(token.stderr).toBe('');
    const refresh = await cli(['refresh', '--force', '-p', 'fallback'], noBus);
    expect(refresh.code).toBe(0);
    expect(refresh.stderr).not.toMatch(/keychain is unavailable/);
    const status = await cli(['status', '-p', 'fallback'], noBus);
    expect(status.stderr).toMatch(/Storage:\s+file .*fallback\.json \(fallback: the OS keychain is unavailable/);
  });

  it('a credential in the file fallback is found, and moved into the keychain, once a keychain is there', async () => {
    const inFile = JSON.parse(readFileSync(credFile('fallback'), 'utf8')).access_token as string;
    const res = await cli(['token', '-p', 'fallback']);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${inFile}\n`);
    expect(res.stderr).toContain('The credential of profile fallback moved from the file');
    expect(existsSync(credFile('fallback'))).toBe(false);
    expect(stored('fallback')!.access_token).toBe(inFile);
    const status = await cli(['status', '-p', 'fallback']);
    expect(status.stderr).toMatch(/Storage:\s+OS keychain \(service authcli, account fallback\)/);
    // logout removes it from every store.
    expect((await cli(['logout', '-p', 'fallback', '--no-revoke'])).code).toBe(0);
    expect(kr.accounts()).toEqual([]);
  });

  it('a newer copy in the file beside the keychain entry (written while the keychain failed) wins: no rotated refresh token is replayed', async () => {
    // Rotation is on in this sandbox: replaying an old refresh token would end the session.
    expect((await login({}, 'race')).code).toBe(0);
    const older = kr.lookup('race')!;
    expect((await cli(['refresh', '--force', '-p', 'race'])).code).toBe(0);
    const newer = kr.lookup('race')!;
    expect(JSON.parse(newer).refresh_token).not.toBe(JSON.parse(older).refresh_token);
    // What a process whose keychain write timed out leaves: the new credential in the file,
    // while the keychain still holds the one before it.
    writeFileSync(credFile('race'), newer, { mode: 0o600 });
    expect(kr.secretTool(['store', '--label', 'keyring:race@authcli', 'service', 'authcli', 'username', 'race'], older).code).toBe(0);
    expect(kr.lookup('race')).toBe(older);
    const revokedBefore = sandbox.events.filter((e: { type: string }) => e.type === 'grant.revoked').length;

    const res = await cli(['refresh', '--force', '-p', 'race']);
    expect(res.code, res.stderr).toBe(0);
    const now = JSON.parse(kr.lookup('race')!) as { access_token: string; refresh_token: string };
    expect(now.refresh_token).not.toBe(JSON.parse(newer).refresh_token);
    expect(existsSync(credFile('race'))).toBe(false);
    expect(sandbox.events.filter((e: { type: string }) => e.type === 'grant.revoked')).toHaveLength(revokedBefore);
    expect((await sandbox.userinfo(now.access_token)).status).toBe(200);
    expect((await cli(['logout', '-p', 'race', '--no-revoke'])).code).toBe(0);
    expect(kr.accounts()).toEqual([]);
  });

  it('switching storage moves the credential: keychain → file → encrypted-file → keychain, no copy left behind', async () => {
    expect((await login({}, 'mover')).code).toBe(0);
    const token = stored('mover')!.access_token;
    const config = join(home, 'config.yaml');
    const setStorage = (kind: string | undefined) => {
      const text = readFileSync(config, 'utf8').replace(/\n {4}storage: [a-z-]+/, '');
      writeFileSync(config, kind ? text.replace(/(\n {2}mover:\n)/, `$1    storage: ${kind}\n`) : text);
    };

    setStorage('file');
    let res = await cli(['token', '-p', 'mover']);
    expect(res.stdout).toBe(`${token}\n`);
    expect(res.stderr).toMatch(/moved from the OS keychain .* to the file/);
    expect(kr.accounts()).toEqual([]);
    expect(JSON.parse(readFileSync(credFile('mover'), 'utf8')).access_token).toBe(token);

    setStorage('encrypted-file');
    res = await cli(['token', '-p', 'mover'], { AUTH_PASSPHRASE: 'correct horse' });
    expect(res.stdout).toBe(`${token}\n`);
    expect(res.stderr).toContain('now encrypted');
    expect(readFileSync(credFile('mover')).subarray(0, 7).toString('latin1')).toBe('AUTHENC');
    expect(filesContaining(home, token)).toEqual([]);
    expect(kr.accounts()).toEqual([]);

    setStorage(undefined);
    res = await cli(['status', '-p', 'mover'], { AUTH_PASSPHRASE: 'correct horse' });
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/moved from the encrypted file .* to the OS keychain/);
    expect(res.stderr).toMatch(/Storage:\s+OS keychain/);
    expect(existsSync(credFile('mover'))).toBe(false);
    expect(kr.accounts()).toEqual(['mover']);

    // AUTH_STORAGE switches too, and a fresh login under the new setting leaves no old copy.
    expect((await login({ AUTH_STORAGE: 'file' }, 'mover')).code).toBe(0);
    expect(kr.accounts()).toEqual([]);
    expect(existsSync(credFile('mover'))).toBe(true);
    expect((await cli(['logout', '-p', 'mover', '--no-revoke'])).code).toBe(0);
    expect(existsSync(credFile('mover'))).toBe(false);
  });

  it('a keyring daemon that stops answering: said within about 2 s (exit 1, not "not logged in"), never a hang', async () => {
    kr.pauseDaemon();
    try {
      const started = Date.now();
      // The CLI's own 2 s bound, not the suite's raised one (test/support/cli.ts).
      const res = await cli(['status', '-p', 'stuck'], { AUTH_TEST_KEYCHAIN_TIMEOUT_MS: undefined });
      const elapsed = Date.now() - started;
      expect(res.code).toBe(1);
      expect(res.signal).toBeNull();
      expect(res.stderr).toMatch(/keychain did not answer/);
      expect(res.stderr).not.toMatch(/Not logged in/);
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      const json = JSON.parse((await cli(['status', '--json', '-p', 'stuck'], { AUTH_TEST_KEYCHAIN_TIMEOUT_MS: undefined })).stdout);
      expect(json.profiles[0].loggedIn).toBe(false);
    } finally {
      kr.resumeDaemon();
    }
  });

  it('a session bus without a Secret Service, or a keyring with no unlocked collection: login falls back to the file (R73)', async () => {
    for (const opts of [{ secretService: false }, { unlocked: false }]) {
      const other = await startPrivateKeyring(opts);
      try {
        const profile = opts.secretService === false ? 'busonly' : 'locked';
        const res = await login(other.env, profile);
        expect(res.code, res.stderr).toBe(0);
        const warning = res.stderr.split('\n').find((l) => l.includes('keychain is unavailable'));
        expect(warning).toContain(credFile(profile));
        expect(warning).toMatch(opts.secretService === false ? /no Secret Service on the D-Bus session bus/ : /refused to store the secret/);
        expect(existsSync(credFile(profile))).toBe(true);
        expect(other.accounts()).toEqual([]);
      } finally {
        await other.stop();
      }
    }
  });

  it('a profile pinned to `storage: keychain` fails with exit 1 and says why when there is no keychain — before any sign-in', async () => {
    const noBus = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(home, 'no-such-bus')}` };
    const res = await login({ ...noBus, AUTH_STORAGE: 'keychain' }, 'pinned');
    expect(res.code).toBe(1);
    expect(res.stderr).not.toContain('Open this URL');
    expect(res.stderr).toContain('The OS keychain is unavailable (no D-Bus session bus (ENOENT))');
    expect(res.stderr).toContain('profile pinned is set to `storage: keychain`');
    expect(res.stderr).toContain('storage: encrypted-file');
    expect(existsSync(credFile('pinned'))).toBe(false);
    const token = await cli(['token', '-p', 'pinned'], { ...noBus, AUTH_STORAGE: 'keychain' });
    expect(token.code).toBe(1);
    expect(token.stdout).toBe('');
    expect(token.stderr).toContain('`storage: keychain`');
  });

  it('a confidential client uses the client secret stored in the keychain when its variable is unset', async () => {
    const { service } = sandbox;
    // What the setup wizard does: the secret into the store, the config only names it.
    const { storeClientSecret } = await import('../src/store/client-secret.js');
    const { resolvePaths } = await import('../src/config/paths.js');
    const previous = process.env.DBUS_SESSION_BUS_ADDRESS;
    process.env.DBUS_SESSION_BUS_ADDRESS = kr.env.DBUS_SESSION_BUS_ADDRESS;
    try {
      const log = { debugEnabled: false, color: false, info() {}, success() {}, warn() {}, error() {}, debug() {} };
      const { StorageContext } = await import('../src/store/context.js');
      await storeClientSecret({ name: 'svc' }, service.clientSecret, { env: { ...kr.env }, log, paths: resolvePaths({ AUTH_HOME: home }, process.platform, home), platform: process.platform, signal: new AbortController().signal, storage: new StorageContext() } as never);
    } finally {
      if (previous === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = previous;
    }
    expect(kr.lookup('svc:client-secret')).toBe(service.clientSecret);
    const res = await cli(['login', '--client-credentials', '-p', 'svc', '--issuer', sandbox.issuer, '--client-id', service.clientId, '--client-secret-env', 'SVC_SECRET_NOT_SET']);
    expect(res.stderr).not.toContain('is not set');
    expect(res.code).toBe(0);
    expect(stored('svc')!.access_token).toBeTruthy();
    expect(filesContaining(home, service.clientSecret)).toEqual([]);
  });
});
