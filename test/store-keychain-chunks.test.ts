import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, ROOT, runCli, filesContaining } from './support/cli.js';
import { keyringRequirement, startPrivateKeyring, type PrivateKeyring } from './support/keyring.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// Windows Credential Manager keeps at most 2560 bytes (≈1280 UTF-16 characters)
// per secret, less than an OIDC credential: store/keychain.ts stores a longer
// value in chunks under `<key>#<gen>#<i>`, with a header in the main entry. The
// Windows limit is 1200 characters; AUTH_TEST_KEYCHAIN_MAX_SECRET lowers it here
// so the same logic runs against a real Secret Service (a private gnome-keyring,
// test/support/keyring.ts). secret-tool is the independent witness.

const MAX = 200;
const CHUNKED = { AUTH_TEST_KEYCHAIN_MAX_SECRET: String(MAX) };
const HEADER = /^authcli-chunked:v1:([0-9a-f]{16}):([0-9]+):([0-9a-f]{64})$/;
/** Preloaded in the CLI: records whether the full CLI (dist/main.cjs) answered (see test/fast-path.test.ts). */
const PROBE = join(ROOT, 'test', 'support', 'fast-probe.cjs');

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const keyring = keyringRequirement();

describe.skipIf(keyring.skip)('long secrets in the OS keychain are stored in chunks (private gnome-keyring)', () => {
  let sandbox: Sandbox;
  let kr: PrivateKeyring;
  const { home, cleanup } = makeHome('auth-kc-chunks-');
  const env = (extra: Record<string, string | undefined> = {}) => ({ AUTH_STORAGE: undefined, ...kr.env, ...extra });
  const cli = (args: string[], extra: Record<string, string | undefined> = {}) => runCli(args, { home, env: env(extra) });
  const login = (extra: Record<string, string | undefined> = {}, profile = 'default') =>
    cli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli', ...(profile === 'default' ? [] : ['-p', profile])], extra);
  const credFile = (profile = 'default') => join(home, 'credentials', `${profile}.json`);

  /** Which path answered `auth token` (fast: the small bundle alone; slow: the full CLI). */
  async function probedToken(extra: Record<string, string | undefined> = {}, profile = 'default') {
    const out = join(home, `probe-${process.hrtime.bigint()}`);
    const res = await cli(['token', ...(profile === 'default' ? [] : ['-p', profile])], { ...extra, NODE_OPTIONS: `--require ${PROBE}`, AUTH_PROBE_OUT: out });
    const path = existsSync(out) ? readFileSync(out, 'utf8').trim() : 'none';
    rmSync(out, { force: true });
    return { ...res, path };
  }

  /** Every secret under service authcli, as secret-tool prints them ("secret = …" on stdout). */
  const allSecrets = () => {
    const r = kr.secretTool(['search', '--all', 'service', 'authcli']);
    return [...r.stdout.matchAll(/^secret = (.*)$/gm)].map((m) => m[1]!);
  };

  /** The profile's chunked entry as the keychain holds it, reassembled here from secret-tool's reads. */
  function chunked(profile = 'default') {
    const main = kr.lookup(profile);
    const m = HEADER.exec(main ?? '');
    if (!m) throw new Error(`the main entry of ${profile} is not a chunk header`);
    const [, gen, n, hash] = m as unknown as [string, string, string, string];
    const names = Array.from({ length: Number(n) }, (_, i) => `${profile}#${gen}#${i}`);
    const parts = names.map((a) => kr.lookup(a));
    const whole = parts.every((p) => p !== undefined) ? parts.join('') : undefined;
    return { gen, count: Number(n), hash, names, parts, whole, cred: whole === undefined ? undefined : (JSON.parse(whole) as { access_token: string; refresh_token?: string; id_token?: string }) };
  }

  // A daemon that died under the test is named as the cause, not left to read as a CLI fault.
  afterEach(() => {
    expect(kr?.daemonDeath()).toBeUndefined();
  });
  beforeAll(async () => {
    keyring.assertAvailable();
    [kr, sandbox] = await Promise.all([startPrivateKeyring(), startSandbox({ accessTokenTTL: 3600 })]);
  });
  afterAll(async () => {
    await Promise.all([kr?.stop(), sandbox?.close()]);
    cleanup();
  });

  it('login stores a longer credential as a header plus chunks, none over the limit, and writes no credential file', async () => {
    const res = await login(CHUNKED);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('✓ Logged in to');
    expect(res.stderr).not.toMatch(/keychain is unavailable/i);
    const c = chunked();
    expect(c.count).toBeGreaterThanOrEqual(2);
    // Exactly the main entry and the chunks it names: nothing else.
    expect(kr.accounts()).toEqual(['default', ...c.names].sort());
    const secrets = allSecrets();
    expect(secrets).toHaveLength(c.count + 1);
    for (const s of secrets) expect(s.length).toBeLessThanOrEqual(MAX);
    // The parts make up the credential the header vouches for.
    expect(c.whole!.length).toBeGreaterThan(MAX);
    expect(sha256(c.whole!)).toBe(c.hash);
    expect(c.cred!.access_token).toBeTruthy();
    expect(c.cred!.refresh_token).toBeTruthy();
    expect(existsSync(credFile())).toBe(false);
    expect(filesContaining(home, c.cred!.access_token)).toEqual([]);
    expect(filesContaining(home, c.cred!.refresh_token!)).toEqual([]);
  });

  it('auth token: the fast path leaves the chunked entry to the full CLI, which prints the token; the provider accepts it', async () => {
    const { access_token } = chunked().cred!;
    // The first `auth token` after a config change is the full CLI anyway (it indexes config.yaml).
    expect((await cli(['token'], CHUNKED)).code).toBe(0);
    // Reading needs no override: a header is followed whatever the limit.
    const res = await probedToken();
    expect(res.path).toBe('slow');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${access_token}\n`);
    expect(res.stderr).toBe('');
    expect((await sandbox.userinfo(res.stdout.trim())).status).toBe(200);
  });

  it('refresh --force rotates: a new generation of chunks, the old generation gone, still no file', async () => {
    const before = chunked();
    const res = await cli(['refresh', '--force'], CHUNKED);
    expect(res.code, res.stderr).toBe(0);
    const after = chunked();
    expect(after.gen).not.toBe(before.gen);
    expect(after.cred!.access_token).not.toBe(before.cred!.access_token);
    expect(after.cred!.refresh_token).not.toBe(before.cred!.refresh_token);
    expect(kr.accounts()).toEqual(['default', ...after.names].sort());
    for (const old of before.names) expect(kr.lookup(old)).toBeUndefined();
    for (const s of allSecrets()) expect(s.length).toBeLessThanOrEqual(MAX);
    expect(existsSync(credFile())).toBe(false);
    const token = await cli(['token'], CHUNKED);
    expect(token.stdout).toBe(`${after.cred!.access_token}\n`);
  });

  it('a value that fits again goes back to one plain entry (the fast path reads it), and back to chunks', async () => {
    const before = chunked();
    // No override: on Linux there is no limit, so the credential is one entry as before this change.
    const res = await cli(['refresh', '--force']);
    expect(res.code, res.stderr).toBe(0);
    expect(kr.accounts()).toEqual(['default']);
    const plain = JSON.parse(kr.lookup('default')!) as { access_token: string };
    expect(plain.access_token).not.toBe(before.cred!.access_token);
    const fast = await probedToken();
    expect(fast.path).toBe('fast');
    expect(fast.stdout).toBe(`${plain.access_token}\n`);

    expect((await cli(['refresh', '--force'], CHUNKED)).code).toBe(0);
    const again = chunked();
    expect(kr.accounts()).toEqual(['default', ...again.names].sort());
    expect(again.cred!.access_token).not.toBe(plain.access_token);
  });

  it('chunks of an interrupted write (no header names them) are harmless, and logout removes every entry of the profile', async () => {
    const current = chunked();
    // What a crash leaves: a new generation's chunks written, the header not yet switched to them.
    const orphan = `default#${'0123456789abcdef'}#0`;
    expect(kr.secretTool(['store', '--label', 'leftover', 'service', 'authcli', 'username', orphan], '{"access_token":"LEFTOVER').code).toBe(0);
    const token = await cli(['token']);
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout).toBe(`${current.cred!.access_token}\n`);

    const res = await cli(['logout']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('revoked at server and removed locally');
    expect(kr.accounts()).toEqual([]);
    expect(allSecrets()).toEqual([]);
    expect((await sandbox.introspect(current.cred!.access_token)).active).toBe(false);
    const status = await cli(['status']);
    expect(status.code).toBe(4);
  });

  it('a missing or altered chunk: auth token fails (exit 1) saying the entry is damaged, prints no token; login again repairs it', async () => {
    expect((await login(CHUNKED)).code).toBe(0);
    const c = chunked();
    const first = c.parts[0]!;
    const check = (res: { code: number | null; stdout: string; stderr: string }) => {
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toMatch(/stored credential in the OS keychain \(service authcli, account default\) is damaged/);
      expect(res.stderr).toContain('run `auth login` again');
      // Never any of the contents.
      expect(res.stderr).not.toContain(first.slice(0, 40));
      expect(res.stderr).not.toContain(c.cred!.access_token.slice(0, 40));
    };

    // Altered: the parts no longer match the header's hash.
    const last = c.names[c.count - 1]!;
    expect(kr.secretTool(['store', '--label', 'altered', 'service', 'authcli', 'username', last], `${c.parts[c.count - 1]!}x`).code).toBe(0);
    let res = await cli(['token']);
    check(res);

    // Missing.
    expect(kr.secretTool(['clear', 'service', 'authcli', 'username', c.names[1]!]).code).toBe(0);
    expect(kr.lookup(c.names[1]!)).toBeUndefined();
    res = await cli(['token']);
    check(res);
    const probed = await probedToken(); // the fast path, too, hands it on rather than answering
    expect(probed.path).toBe('slow');
    check(probed);

    // `auth login` again replaces it, and removes what was left of the damaged generation.
    res = await login(CHUNKED);
    expect(res.code, res.stderr).toBe(0);
    const fresh = chunked();
    expect(fresh.gen).not.toBe(c.gen);
    expect(kr.accounts()).toEqual(['default', ...fresh.names].sort());
    res = await cli(['token']);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${fresh.cred!.access_token}\n`);

    expect((await cli(['logout', '--no-revoke'])).code).toBe(0);
    expect(kr.accounts()).toEqual([]);
  });

  it('logout of a damaged entry keeps it (exit 1) unless --force, which removes it and the remaining chunks', async () => {
    expect((await login(CHUNKED)).code).toBe(0);
    const c = chunked();
    expect(kr.secretTool(['clear', 'service', 'authcli', 'username', c.names[0]!]).code).toBe(0);
    const before = kr.accounts();
    const kept = await cli(['logout']);
    expect(kept.code, kept.stderr).toBe(1);
    expect(kept.stderr.split('\n').find((l) => l.startsWith('error:'))).toMatch(/could not be read, so it was neither revoked nor removed.*is damaged/);
    expect(kept.stderr).toContain('auth logout -p default --force');
    expect(kr.accounts()).toEqual(before);
    const res = await cli(['logout', '--force']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/could not be read \(.*is damaged.*removed locally without being revoked/);
    expect(res.stderr).not.toContain(c.parts[1]!.slice(0, 40));
    expect(kr.accounts()).toEqual([]);
  });

  it('without the override a credential is one entry, no header, exactly as before', async () => {
    const res = await login({}, 'short');
    expect(res.code, res.stderr).toBe(0);
    expect(kr.accounts()).toEqual(['short']);
    const text = kr.lookup('short')!;
    expect(text.startsWith('authcli-chunked:')).toBe(false);
    const cred = JSON.parse(text) as { access_token: string };
    // It would have been chunked under the test limit: the override is what made the difference.
    expect(text.length).toBeGreaterThan(MAX);
    expect((await cli(['token', '-p', 'short'])).code).toBe(0);
    const fast = await probedToken({}, 'short');
    expect(fast.path).toBe('fast');
    expect(fast.stdout).toBe(`${cred.access_token}\n`);
    expect((await cli(['logout', '-p', 'short', '--no-revoke'])).code).toBe(0);
    expect(kr.accounts()).toEqual([]);
  });

  it('KeychainVault: chunks never split a surrogate pair; a short value that looks like a header is chunked; the limit comes from the env', async () => {
    const { KeychainVault } = await import('../src/store/keychain.js');
    const service = 'authcli-chunk-unit';
    // The native binding reads the bus address from this process's environment.
    const previous = process.env.DBUS_SESSION_BUS_ADDRESS;
    process.env.DBUS_SESSION_BUS_ADDRESS = kr.env.DBUS_SESSION_BUS_ADDRESS;
    try {
      const vault = new KeychainVault(service, { ...kr.env, AUTH_TEST_KEYCHAIN_MAX_SECRET: '128' });
      expect(vault.maxSecret()).toBe(128);
      expect(new KeychainVault(service, { ...kr.env, AUTH_TEST_KEYCHAIN_MAX_SECRET: '5' }).maxSecret()).toBe(128);
      expect(new KeychainVault(service, { ...kr.env, AUTH_TEST_KEYCHAIN_MAX_SECRET: '2x' }).maxSecret()).toBe(Infinity);
      expect(new KeychainVault(service, { ...kr.env }).maxSecret()).toBe(Infinity);

      // 'a' then pairs: every chunk boundary at 128 would fall inside a pair.
      const wide = `a${'😀é'.repeat(150)}`;
      await vault.set('wide', wide);
      expect(await vault.get('wide')).toBe(wide);
      const accounts = kr.accounts(service).filter((a) => a.startsWith('wide#'));
      expect(accounts.length).toBeGreaterThanOrEqual(4);
      for (const a of accounts) {
        const part = kr.lookup(a, service)!;
        expect(part.length).toBeLessThanOrEqual(128);
        expect(part).not.toContain('\uFFFD');
        expect(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(part)).toBe(false);
      }

      const lookalike = 'authcli-chunked:v1:0123456789abcdef:1:' + '0'.repeat(64);
      await vault.set('lookalike', lookalike);
      expect(kr.lookup('lookalike', service)).not.toBe(lookalike);
      expect(kr.lookup('lookalike', service)).toMatch(HEADER);
      expect(await vault.get('lookalike')).toBe(lookalike);

      // A short value replacing a chunked one: one entry again, the chunks gone.
      await vault.set('wide', 'short');
      expect(kr.accounts(service).filter((a) => a.startsWith('wide'))).toEqual(['wide']);
      expect(await vault.get('wide')).toBe('short');

      expect(await vault.delete('wide')).toBe(true);
      expect(await vault.delete('lookalike')).toBe(true);
      expect(await vault.delete('lookalike')).toBe(false);
      expect(kr.accounts(service)).toEqual([]);
    } finally {
      if (previous === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = previous;
    }
  });
});
