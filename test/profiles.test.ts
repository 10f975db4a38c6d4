import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, runCli } from './support/cli.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// `auth profiles`, `auth profiles use`, `auth profiles remove` (docs/design.md §2), with
// real sign-ins at the sandbox provider so "remove logs out first" is visible
// at the provider (its revocation endpoint is called).
describe('auth profiles', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-profiles-');
  const config = () => parse(readFileSync(join(home, 'config.yaml'), 'utf8'));

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    for (const name of ['work', 'personal']) {
      const res = await runCli(['login', '-p', name, '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home, env: { SANDBOX_LOGIN: name === 'work' ? 'alice' : 'bob' } });
      expect(res.code, res.stderr).toBe(0);
    }
    // A third profile that was configured but never used.
    const text = readFileSync(join(home, 'config.yaml'), 'utf8');
    writeFileSync(join(home, 'config.yaml'), `${text}  gh:\n    provider: github\n    issuer: https://github.com\n    clientId: Iv1.abc\n`);
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  it('lists every profile on stdout with the active one marked', async () => {
    const res = await runCli(['profiles'], { home });
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^\\* work\\s+OpenID Connect\\s+${sandbox.issuer.replace(/[.:/]/g, '\\$&')}$`));
    expect(lines[1]).toMatch(/^ {2}personal\s+OpenID Connect\s+/);
    expect(lines[2]).toMatch(/^ {2}gh\s+GitHub\s+https:\/\/github\.com$/);
  });

  it('--json has the active profile and one object per profile (storage as resolved: AUTH_STORAGE=file here)', async () => {
    const res = await runCli(['profiles', '--json'], { home });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({
      active: 'work',
      profiles: [
        { name: 'work', active: true, provider: 'oidc', issuer: sandbox.issuer, clientId: 'auth-cli', flow: 'auto', storage: 'file' },
        { name: 'personal', active: false, provider: 'oidc', issuer: sandbox.issuer, clientId: 'auth-cli', flow: 'auto', storage: 'file' },
        { name: 'gh', active: false, provider: 'github', issuer: 'https://github.com', clientId: 'Iv1.abc', flow: 'auto', storage: 'file' },
      ],
    });
  });

  it('`use` switches the active profile: token, status and the list follow it', async () => {
    const use = await runCli(['profiles', 'use', 'personal'], { home });
    expect(use.code).toBe(0);
    expect(use.stderr).toContain('Active profile: personal');
    expect(config().active).toBe('personal');
    const status = await runCli(['status', '--json'], { home });
    expect(JSON.parse(status.stdout).profiles[0]).toMatchObject({ name: 'personal', active: true, account: 'bob@example.com' });
    expect((await runCli(['profiles'], { home })).stdout).toMatch(/^\* personal/m);
  });

  it('`use` of a profile that does not exist is a usage error naming the profiles (exit 2), nothing changes', async () => {
    const res = await runCli(['profiles', 'use', 'nope'], { home });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('There is no profile named nope.');
    expect(res.stderr).toContain('Profiles: work, personal, gh');
    expect(config().active).toBe('personal');
  });

  it('`status --all` lists every profile', async () => {
    const res = await runCli(['status', '--all', '--json'], { home });
    expect(JSON.parse(res.stdout).profiles.map((p: { name: string }) => p.name)).toEqual(['work', 'personal', 'gh']);
  });

  it('`remove` logs out first (revoked at the provider), then deletes the profile and its credential', async () => {
    const cred = JSON.parse(readFileSync(join(home, 'credentials', 'personal.json'), 'utf8'));
    expect((await sandbox.introspect(cred.refresh_token)).active).toBe(true);
    const revokedBefore = sandbox.events.filter((e) => e.type === 'revocation.success').length;
    const res = await runCli(['profiles', 'remove', 'personal'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('Logged out of profile personal: revoked at server and removed locally.');
    expect(res.stderr).toContain('Removed profile personal.');
    expect(res.stderr).toContain('It was the active profile; pick another with `auth profiles use <name>`');
    expect(sandbox.events.filter((e) => e.type === 'revocation.success').length).toBeGreaterThan(revokedBefore);
    expect((await sandbox.introspect(cred.refresh_token)).active).toBe(false);
    expect(existsSync(join(home, 'credentials', 'personal.json'))).toBe(false);
    const after = config();
    expect(Object.keys(after.profiles)).toEqual(['work', 'gh']);
    expect(after.active).toBeUndefined();
    // The other profile is untouched and still works.
    expect((await runCli(['token', '-p', 'work'], { home })).code).toBe(0);
  });

  it('`remove` of a profile never logged in just deletes it; an unknown one is exit 2', async () => {
    const res = await runCli(['profiles', 'remove', 'gh'], { home });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('Profile gh: not logged in; nothing to do.');
    expect(Object.keys(config().profiles)).toEqual(['work']);
    const missing = await runCli(['profiles', 'remove', 'gh'], { home });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('There is no profile named gh.');
  });

  it('with no profiles the list says how to create one', async () => {
    const { home: empty, cleanup: done } = makeHome('auth-profiles-');
    try {
      const res = await runCli(['profiles'], { home: empty });
      expect(res.code).toBe(0);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain('No profiles yet. Run `auth setup`');
      expect(JSON.parse((await runCli(['profiles', '--json'], { home: empty })).stdout)).toEqual({ active: null, profiles: [] });
    } finally {
      done();
    }
  });
});

// A profile pinned to `storage: keychain` on a machine with no Secret Service (an SSH box, a
// container; the test env has DBUS_SESSION_BUS_ADDRESS=disabled:) can always be logged out and
// removed: what could not be deleted is said, and the other profiles are untouched.
describe('a profile pinned to a keychain that is not there', () => {
  const { home, cleanup } = makeHome('auth-profiles-pinned-');
  const configFile = join(home, 'config.yaml');
  const pinned = 'active: work\nprofiles:\n  work:\n    issuer: https://login.example.com\n    clientId: cli\n    storage: keychain\n  other:\n    issuer: https://login2.example.com\n    clientId: cli\n';
  const env = { AUTH_STORAGE: undefined };
  beforeAll(() => writeFileSync(configFile, pinned, { mode: 0o600 }));
  afterAll(cleanup);

  it('auth logout --no-revoke and auth logout --all exit 0, saying the keychain could not be touched', async () => {
    for (const args of [['logout', '--no-revoke', '-p', 'work'], ['logout', '--all'], ['logout', '-p', 'work']]) {
      const res = await runCli(args, { home, env });
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(0);
      expect(res.stderr).toMatch(/Profile work: the OS keychain is unavailable here \(.+\), so a credential stored in it could not be read, revoked or deleted/);
      expect(res.stdout).toBe('');
    }
  });

  it('auth profiles remove removes it (exit 0), keeps the others, and names what it could not delete', async () => {
    const res = await runCli(['profiles', 'remove', 'work'], { home, env });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/could not be read, revoked or deleted/);
    expect(res.stderr).toContain('Removed profile work.');
    const after = parse(readFileSync(configFile, 'utf8'));
    expect(Object.keys(after.profiles)).toEqual(['other']);
    expect(after.active).toBeUndefined();
  });
});
