import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { errorLine, type CliResult } from './support/cli.js';
import { startFakeAs, type FakeAs } from './support/fake-as.js';
import { keyringRequirement, startPrivateKeyring, type PrivateKeyring } from './support/keyring.js';
import { session, type Session } from './support/security.js';

// A keychain that stops answering (docs/design.md §4, §5): "cannot read the credential" is a
// failure (exit 1) that names the keychain — never "Not logged in" (exit 4), and never a
// reason to delete what the keychain holds. A private gnome-keyring on a private D-Bus
// (test/support/keyring.ts); SIGSTOP makes it stop answering.

const keyring = keyringRequirement();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each caller printed the token (exit 0) or failed naming the keychain (exit 1); none said "not logged in" (4). */
function expectTokenOrKeychainError(results: CliResult[], accessToken: string): void {
  expect(results.filter((r) => r.code === 4).map((r) => errorLine(r.stderr))).toEqual([]);
  for (const r of results) {
    if (r.code === 0) {
      expect(r.stdout).toBe(`${accessToken}\n`);
    } else {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(errorLine(r.stderr)).toMatch(/keychain/i);
    }
  }
}

describe.skipIf(keyring.skip)('a keychain that stops answering is not "Not logged in" (private gnome-keyring)', () => {
  let kr: PrivateKeyring;
  let fake: FakeAs;
  let s: Session;
  // Default storage (AUTH_STORAGE unset → the keychain) on the private bus.
  const env = () => ({ AUTH_STORAGE: undefined, ...kr.env });
  const cli = (args: string[]) => s.run(args, { env: env(), timeoutMs: 120_000 });
  // The stall tests are about the CLI's own 2 s keychain bound: no test override of it
  // (test/support/cli.ts raises it elsewhere, for a loaded machine).
  const cliRealBound = (args: string[]) => s.run(args, { env: { ...env(), AUTH_TEST_KEYCHAIN_TIMEOUT_MS: undefined }, timeoutMs: 120_000 });
  const stored = () => {
    const text = kr.lookup('default');
    return text === undefined ? undefined : (JSON.parse(text) as { access_token: string; refresh_token?: string });
  };

  beforeAll(async () => {
    keyring.assertAvailable();
    [kr, fake] = await Promise.all([startPrivateKeyring(), startFakeAs()]);
    s = session();
    const login = await s.login(fake, [], { env: env() });
    expect(login.code, login.stderr).toBe(0);
    expect(kr.accounts()).toEqual(['default']);
    expect(existsSync(join(s.home, 'credentials', 'default.json'))).toBe(false);
  });
  afterAll(async () => {
    await Promise.all([kr?.stop(), fake?.close()]);
    await s?.cleanup();
  });

  it('paused daemon: token, status and logout exit 1 naming the keychain; the credential stays in the keychain; token works once it answers again', async () => {
    const secret = kr.lookup('default')!;
    const { access_token } = stored()!;
    let token: CliResult, status: CliResult, logout: CliResult;
    kr.pauseDaemon();
    try {
      token = await cliRealBound(['token']);
      status = await cliRealBound(['status']);
      logout = await cliRealBound(['logout']);
    } finally {
      kr.resumeDaemon();
    }
    expect(token.code, token.stderr).toBe(1);
    expect(token.stdout).toBe('');
    expect(errorLine(token.stderr)).toMatch(/keychain/i);
    expect(errorLine(token.stderr)).toMatch(/did not answer|not answer|timed out/i);
    expect(status.code, status.stderr).toBe(1);
    expect(logout.code, logout.stderr).toBe(1);
    expect(fake.requestsTo('/revoke')).toHaveLength(0);
    // Calls queued at the paused daemon run once it resumes: give them a moment before looking.
    await sleep(1000);
    expect(kr.lookup('default')).toBe(secret);
    expect(existsSync(join(s.home, 'credentials', 'default.json'))).toBe(false);

    const again = await cli(['token']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`${access_token}\n`);
  }, 180_000);

  it('a session bus at its connection limit is not "no keychain": token and status exit 1 naming it, nothing moves to the file; a bus busy for a moment is asked again', async () => {
    const secret = kr.lookup('default')!;
    const { access_token } = stored()!;
    let token: CliResult, json: CliResult, status: CliResult;
    // gnome-keyring holds the one connection allowed: the bus refuses every new one (LimitsExceeded).
    await kr.setConnectionLimit(1);
    try {
      token = await cliRealBound(['token']);
      json = await cliRealBound(['token', '--format', 'json']);
      status = await cliRealBound(['status']);
    } finally {
      await kr.setConnectionLimit(undefined);
    }
    for (const res of [token, json]) {
      expect(res.code, res.stderr).toBe(1);
      expect(res.stdout).toBe('');
      // The bus's refusal is the reason; on a machine too loaded for even one refusal to come back
      // within the 2 s bound, the bound is.
      expect(errorLine(res.stderr)).toMatch(/keychain did not answer \((the D-Bus session bus is at its connection limit|the D-Bus session bus or the Secret Service did not answer within 2 s)\)/);
    }
    expect(status.code, status.stderr).toBe(1);
    expect(`${status.stdout}${status.stderr}`).toMatch(/keychain did not answer/);
    expect(`${status.stdout}${status.stderr}`).not.toMatch(/not logged in/i);
    expect(kr.lookup('default')).toBe(secret);
    expect(existsSync(join(s.home, 'credentials', 'default.json'))).toBe(false);

    // Busy for a moment: the CLI is refused, asks again, and gets through once the bus takes connections.
    await kr.setConnectionLimit(1);
    const refusedBefore = kr.refusedConnections();
    const running = cli(['token']);
    try {
      for (let i = 0; i < 2400 && kr.refusedConnections() === refusedBefore; i++) await sleep(25);
      expect(kr.refusedConnections()).toBeGreaterThan(refusedBefore);
    } finally {
      await kr.setConnectionLimit(undefined);
    }
    const later = await running;
    expect(later.code, later.stderr).toBe(0);
    expect(later.stdout).toBe(`${access_token}\n`);
    expect(later.stderr).toBe('');
  }, 180_000);

  it('60 parallel `auth token` with a valid keychain token: none says "not logged in" (each prints the token, or fails naming the keychain)', async () => {
    const { access_token } = stored()!;
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 60 }, () => cli(['token'])));
    const wallMs = performance.now() - started;
    expectTokenOrKeychainError(results, access_token);
    expect(stored()!.access_token).toBe(access_token);
    const ok = results.filter((r) => r.code === 0).length;
    console.info(`[figures] 60 parallel auth token (keychain): ${ok} printed the token, ${results.length - ok} failed naming the keychain, wall ${Math.round(wallMs)} ms`);
  }, 180_000);

  it('60 parallel `auth token` while the keychain stalls for 3 s: still none says "not logged in", nothing is lost', async () => {
    const secret = kr.lookup('default')!;
    const { access_token } = stored()!;
    kr.pauseDaemon();
    let results: CliResult[];
    try {
      const running = Promise.all(Array.from({ length: 60 }, () => cliRealBound(['token'])));
      await sleep(3000);
      kr.resumeDaemon();
      results = await running;
    } finally {
      kr.resumeDaemon();
    }
    expectTokenOrKeychainError(results, access_token);
    await sleep(1000);
    expect(kr.lookup('default')).toBe(secret);
    expect(existsSync(join(s.home, 'credentials', 'default.json'))).toBe(false);
    const ok = results.filter((r) => r.code === 0).length;
    console.info(`[figures] 60 parallel auth token, keychain stalled 3 s: ${ok} printed the token, ${results.length - ok} failed naming the keychain`);
  }, 180_000);
});
