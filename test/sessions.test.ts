import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorLine, makeHome, runCli } from './support/cli.js';
import { startFakeAs, type FakeAs } from './support/fake-as.js';
import { expectNothingStored, FAKE_BROWSER, fakeSessions, type Session } from './support/security.js';
import { requireSystem } from './support/system.js';


// Sessions under stress (docs/design.md §2 `auth refresh` / `auth logout`, §4, §5): a slow provider
// holding the profile lock, stale locks from elsewhere, logout racing a refresh, credentials
// that cannot be read, a full disk, crash leftovers, and a crowd of concurrent callers.

const DISCOVERY = '/.well-known/openid-configuration';
const credFile = (home: string, profile = 'default') => join(home, 'credentials', `${profile}.json`);
const refreshGrants = (fake: FakeAs) => fake.requestsTo('/token').filter((r) => r.form.get('grant_type') === 'refresh_token');
const revokedTokens = (fake: FakeAs) => fake.requestsTo('/revoke').map((r) => r.form.get('token'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A promise the test resolves: the fake AS holds its answer until then. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Marks the stored (plain file) access token as expired; the provider's copy is untouched. */
function expireStoredToken(home: string): void {
  const cred = JSON.parse(readFileSync(credFile(home), 'utf8')) as Record<string, unknown>;
  writeFileSync(credFile(home), JSON.stringify({ ...cred, expires_at: Math.floor(Date.now() / 1000) - 5 }), { mode: 0o600 });
}

/** Replaces a file the way another process's atomic write would (rename over it). */
function replaceFile(file: string, text: string): void {
  const next = `${file}.replacing`;
  writeFileSync(next, text, { mode: 0o600 });
  renameSync(next, file);
}

describe.concurrent('sessions against a scriptable provider (fake AS, separate home each)', () => {
  const fresh = fakeSessions();
  const { loggedIn } = fresh;

  it('a slow provider: a process waiting for the lock never breaks it while the holder lives — one refresh, and the waiter gets its token (docs/design.md §5)', async ({ expect }) => {
    const { fake, s } = await loggedIn();
    const before = s.stored()!;
    // No cached discovery: the refresh starts with a (slow) discovery round-trip.
    const cacheDir = join(s.home, 'cache', 'discovery');
    for (const f of readdirSync(cacheDir)) unlinkSync(join(cacheDir, f));
    fake.discoveryScript.push({ delay: 12_000 });
    fake.tokenScript.push({ delay: 25_000 });
    const discoveries = fake.requestsTo(DISCOVERY).length;

    const a = s.spawn(['refresh', '--force'], { timeoutMs: 170_000 });
    // A is at the provider (holding the profile lock, docs/design.md §5); one second later B wants a token.
    await fake.waitForRequest(DISCOVERY, discoveries + 1, 60_000);
    await sleep(1000);
    const b = s.spawn(['token', '--min-ttl', '99999999'], { timeoutMs: 170_000 });
    const [ra, rb] = await Promise.all([a.result, b.result]);

    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    // The provider saw the refresh token once: no replay of a rotated-out token.
    expect(refreshGrants(fake).map((r) => r.form.get('refresh_token'))).toEqual([before.refresh_token]);
    const stored = s.stored()!;
    expect(stored.access_token).toBe(fake.issued.accessTokens.at(-1));
    expect(stored.refresh_token).toBe(fake.issued.refreshTokens.at(-1));
    expect(stored.refresh_token).not.toBe(before.refresh_token);
    expect(rb.stdout).toBe(`${stored.access_token}\n`);
  }, 180_000);

  it('a lock file from another host with a future mtime does not block forever: it is taken over and the token refreshed', async ({ expect }) => {
    const { fake, s } = await loggedIn();
    expireStoredToken(s.home);
    const locks = join(s.home, 'locks');
    mkdirSync(locks, { recursive: true, mode: 0o700 });
    const lock = join(locks, 'default.lock');
    const future = Date.now() + 3_600_000;
    writeFileSync(lock, JSON.stringify({ pid: 1234, host: 'some-other-host', at: future }), { mode: 0o600 });
    utimesSync(lock, new Date(future), new Date(future));

    const res = await s.run(['token'], { timeoutMs: 140_000 });
    expect(res.code, res.stderr).toBe(0);
    const stored = s.stored()!;
    expect(res.stdout).toBe(`${stored.access_token}\n`);
    expect(stored.access_token).toBe(fake.issued.accessTokens.at(-1));
    expect(refreshGrants(fake)).toHaveLength(1);
  }, 180_000);

  it('logout during a refresh in flight waits for it, then revokes the tokens it stored: nothing comes back (docs/design.md §5)', async ({ expect }) => {
    const { fake, s } = await loggedIn();
    const before = s.stored()!;
    const held = gate();
    fake.tokenScript.push({ delay: held.promise });
    const tokenRequests = fake.requestsTo('/token').length;

    const a = s.spawn(['refresh', '--force'], { timeoutMs: 120_000 });
    let b: ReturnType<Session['spawn']> | undefined;
    let logoutWaited = false;
    try {
      await fake.waitForRequest('/token', tokenRequests + 1, 60_000);
      b = s.spawn(['logout'], { timeoutMs: 120_000 });
      await sleep(2000);
      logoutWaited = b.exitCode === null && b.signalCode === null;
    } finally {
      held.open();
    }
    const [ra, rb] = await Promise.all([a.result, b!.result]);

    expect(ra.code, ra.stderr).toBe(0);
    expect(logoutWaited, `logout must wait for the profile lock; it exited early:\n${rb.stderr}`).toBe(true);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stderr).toMatch(/revoked at server/);
    expect(s.stored()).toBeUndefined();
    expectNothingStored(s);
    const rotated = fake.issued.refreshTokens.at(-1)!;
    expect(rotated).not.toBe(before.refresh_token);
    expect(refreshGrants(fake).map((r) => r.form.get('refresh_token'))).toEqual([before.refresh_token]);
    expect(revokedTokens(fake)).toContain(rotated);
    const status = await s.run(['status']);
    expect(status.code).toBe(4);
  }, 180_000);

  it('a wrong passphrase never deletes: logout, status, token and refresh exit 1 and leave the file; logout --force removes it without revoking (docs/design.md §4, §5)', async ({ expect }) => {
    const enc = (passphrase: string) => ({ AUTH_STORAGE: 'encrypted-file', AUTH_PASSPHRASE: passphrase });
    const { fake, s } = await loggedIn(enc('right-passphrase'));
    const file = credFile(s.home);
    const bytes = readFileSync(file);
    expect(bytes.subarray(0, 7).toString('latin1')).toBe('AUTHENC');
    const wrong = { env: enc('wrong') };
    const unchanged = () => readFileSync(file).equals(bytes);

    const logout = await s.run(['logout'], wrong);
    expect(logout.code, logout.stderr).toBe(1);
    expect(errorLine(logout.stderr)).toMatch(/passphrase/i);
    expect(unchanged()).toBe(true);
    expect(fake.requestsTo('/revoke')).toHaveLength(0);

    const status = await s.run(['status'], wrong);
    expect(status.code, status.stderr).toBe(1);

    const token = await s.run(['token'], wrong);
    expect(token.code, token.stderr).toBe(1);
    expect(token.stdout).toBe('');
    expect(errorLine(token.stderr)).toMatch(/passphrase/i);

    const refresh = await s.run(['refresh', '--force'], wrong);
    expect(refresh.code, refresh.stderr).toBe(1);
    expect(unchanged()).toBe(true);
    expect(refreshGrants(fake)).toHaveLength(0);

    // Still intact: the right passphrase reads it.
    const right = await s.run(['token'], { env: enc('right-passphrase') });
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toBe(`${fake.issued.accessTokens.at(-1)}\n`);
    expect(unchanged()).toBe(true);

    const forced = await s.run(['logout', '--force'], wrong);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/not revoked|could not be read|cannot be read/i);
    expect(existsSync(file)).toBe(false);
    expect(fake.requestsTo('/revoke')).toHaveLength(0);
  }, 180_000);

  it('a damaged credential file: logout exits 1 and keeps it; logout --force removes it', async ({ expect }) => {
    const { fake, s } = await loggedIn();
    const file = credFile(s.home);
    writeFileSync(file, '{garbage', { mode: 0o600 });

    const logout = await s.run(['logout']);
    expect(logout.code, logout.stderr).toBe(1);
    expect(errorLine(logout.stderr)).not.toBe('');
    expect(readFileSync(file, 'utf8')).toBe('{garbage');

    const forced = await s.run(['logout', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(fake.requestsTo('/revoke')).toHaveLength(0);
  }, 180_000);

  it('temp files left by a write that crashed are swept by the next write', async ({ expect }) => {
    const { fake, s } = await loggedIn();
    const before = s.stored()!;
    const dir = join(s.home, 'credentials');
    const stray = join(dir, '.default.json.0123456789ab.tmp');
    writeFileSync(stray, '{"version":1,"kind":"oauth","access_tok', { mode: 0o600 });
    const past = new Date(Date.now() - 120_000);
    utimesSync(stray, past, past);

    const res = await s.run(['refresh', '--force']);
    expect(res.code, res.stderr).toBe(0);
    expect(refreshGrants(fake)).toHaveLength(1);
    expect(s.stored()!.access_token).toBe(fake.issued.accessTokens.at(-1));
    expect(s.stored()!.access_token).not.toBe(before.access_token);
    expect(existsSync(stray)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 180_000);

  it('invalid_grant for a refresh token that is no longer the stored one deletes nothing: a newer sign-in stored meanwhile stays', async ({ expect }) => {
    const { fake, s } = await loggedIn();
    const held = gate();
    fake.tokenScript.push({ status: 400, body: { error: 'invalid_grant' }, delay: held.promise });
    const tokenRequests = fake.requestsTo('/token').length;

    const a = s.spawn(['refresh', '--force'], { timeoutMs: 120_000 });
    let replaced: Record<string, unknown> | undefined;
    try {
      await fake.waitForRequest('/token', tokenRequests + 1, 60_000);
      // Meanwhile a newer sign-in was stored (as another process's atomic write would).
      replaced = {
        ...s.stored()!,
        access_token: `AT_replaced_${randomUUID()}`,
        refresh_token: `RT_replaced_${randomUUID()}`,
        expires_at: Math.floor(Date.now() / 1000) + 3600,
      };
      replaceFile(credFile(s.home), JSON.stringify(replaced));
    } finally {
      held.open();
    }
    const ra = await a.result;

    expect(s.stored(), `the newer credential must survive (refresh exited ${ra.code}: ${errorLine(ra.stderr)})`).toEqual(replaced);
    const again = await s.run(['refresh']);
    expect(again.code, again.stderr).toBe(0);
    expect(s.stored()).toEqual(replaced);
    const token = await s.run(['token']);
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout).toBe(`${replaced!.access_token}\n`);
  }, 180_000);
});

// A full disk needs a small filesystem of our own: a 1 MiB tmpfs (root and mount(8)).
function tmpfsSupport(): { available: boolean; reason: string } {
  if (process.platform !== 'linux') return { available: false, reason: `mounting a tmpfs needs Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { available: false, reason: 'mounting a tmpfs needs root' };
  const dir = mkdtempSync(join(tmpdir(), 'auth-tmpfs-probe-'));
  try {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status !== 0) return { available: false, reason: `mount -t tmpfs failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}` };
    spawnSync('umount', [dir]);
    return { available: true, reason: '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const tmpfsState = tmpfsSupport();
const tmpfs = requireSystem('Full-disk (1 MiB tmpfs)', tmpfsState.available, tmpfsState.reason);

/** Fills the filesystem at `mount` with `filler`, then shrinks it so exactly `leave` bytes (whole pages) are free. */
function fillLeaving(mount: string, filler: string, leave: number): number {
  const page = statfsSync(mount).bsize;
  const fd = openSync(filler, 'w', 0o600);
  try {
    const chunk = Buffer.alloc(page, 0x61);
    let size = 0;
    try {
      for (;;) size += writeSync(fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    }
    size = Math.floor(size / page) * page;
    ftruncateSync(fd, size);
    for (let i = 0; i < 4; i++) {
      const free = statfsSync(mount).bavail * page;
      if (free === leave) return free;
      size -= leave - free;
      ftruncateSync(fd, size);
    }
    return statfsSync(mount).bavail * page;
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(tmpfs.skip)('a full disk after login (1 MiB tmpfs)', () => {
  let mount = '';
  let mounted = false;
  let fake: FakeAs | undefined;
  let logs: ReturnType<typeof makeHome> | undefined;
  beforeAll(async () => {
    tmpfs.assertAvailable();
    logs = makeHome('auth-full-log-');
    mount = mkdtempSync(join(tmpdir(), 'auth-full-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mount], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount -t tmpfs failed: ${r.stderr}`);
    mounted = true;
    fake = await startFakeAs();
  });
  afterAll(async () => {
    await fake?.close();
    if (mounted && spawnSync('umount', [mount]).status !== 0) spawnSync('umount', ['-l', mount]);
    if (mount) rmSync(mount, { recursive: true, force: true });
    logs?.cleanup();
  });

  it('a full disk fails the refresh before it is sent: exit 1, "no space left", nothing rotated, credential unchanged; with space again it works (docs/design.md §5)', async () => {
    const home = join(mount, 'home');
    mkdirSync(home, { mode: 0o700 });
    const env = { AUTH_BROWSER: FAKE_BROWSER, FAKE_BROWSER_LOG: join(logs!.home, 'browser.log'), FAKE_BROWSER_MODE: 'follow' };
    const cli = (args: string[]) => runCli(args, { home, env });
    const login = await cli(['login', '--issuer', fake!.issuer, '--client-id', fake!.clientId]);
    expect(login.code, login.stderr).toBe(0);
    const token = await cli(['token']);
    expect(token.code, token.stderr).toBe(0);
    expect(readdirSync(join(home, 'cache', 'discovery')).length).toBeGreaterThan(0);
    const bytes = readFileSync(credFile(home));

    const filler = join(mount, 'filler');
    expect(fillLeaving(mount, filler, 8192)).toBe(8192);
    const full = await cli(['refresh', '--force']);
    expect(full.code, full.stderr).toBe(1);
    expect(errorLine(full.stderr)).toMatch(/no space left/i);
    expect(refreshGrants(fake!)).toHaveLength(0);
    expect(readFileSync(credFile(home)).equals(bytes)).toBe(true);

    unlinkSync(filler);
    const again = await cli(['refresh', '--force']);
    expect(again.code, again.stderr).toBe(0);
    expect(refreshGrants(fake!)).toHaveLength(1);
    const stored = JSON.parse(readFileSync(credFile(home), 'utf8')) as { access_token: string };
    expect(stored.access_token).toBe(fake!.issued.accessTokens.at(-1));
  }, 180_000);
});
