import { describe, expect, it } from 'vitest';
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeAs, Reply, TokenContext } from './support/fake-as.js';
import { errorLine, makeHome, runCli } from './support/cli.js';
import { expectNothingStored, fakeSessions, type Session } from './support/security.js';

// What a hostile or broken provider can send, and what auth does with it: answers
// that trickle in forever or run to megabytes end in a clear error (exit 1) with
// nothing stored; absurd numbers (expires_in 1e300, interval 0.001) are clamped;
// tokens that could inject headers or terminal escapes are refused.
// The CLI against test/support/fake-as.ts.

/** TEST ONLY (flows/bounded-fetch.ts): a 2 s per-request deadline instead of 30 s. */
const SHORT_DEADLINE = { AUTH_TEST_HTTP_TIMEOUT_MS: '2000' };
const TWO_MIB = 2 * 1024 * 1024;
const LONG = 90_000;

/** The fake's default token answer for this request, changed by `edit`. */
const edited = (edit: (body: Record<string, unknown>, reply: Reply) => void) => async (ctx: TokenContext): Promise<Reply> => {
  const reply = await ctx.defaultReply();
  edit(reply.body as Record<string, unknown>, reply);
  return reply;
};

function clearDiscoveryCache(s: Session): void {
  const dir = join(s.home, 'cache', 'discovery');
  for (const f of readdirSync(dir)) unlinkSync(join(dir, f));
}

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

describe('hostile provider values', () => {
  const fresh = fakeSessions();
  const loggedIn = async (): Promise<{ fake: FakeAs; s: Session; before: Record<string, unknown> }> => {
    const { fake, s } = await fresh();
    const res = await s.login(fake);
    expect(res.code, res.stderr).toBe(0);
    return { fake, s, before: s.stored()! };
  };

  describe('a provider that trickles its answer: every request has a total deadline, body included', () => {
    it.concurrent('token endpoint, during a refresh → "did not finish answering"; the still-valid token is handed out with that warning, credential untouched', async () => {
      const { fake, s, before } = await loggedIn();
      fake.tokenScript.push(edited((_body, reply) => { reply.trickleMs = 300; }));
      // docs/design.md §5: a refresh the provider cannot finish does not take away a token that still works.
      const res = await s.run(['token', '--min-ttl', '99999999'], { env: SHORT_DEADLINE, timeoutMs: LONG });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toBe(`${before.access_token}\n`);
      expect(res.stderr).toMatch(/Could not refresh the token of profile \S+ \(Refreshing the access token failed: the provider did not finish answering within 2 s\); using the current one/);
      expect(s.stored()).toEqual(before);
      // The refresh lock was released: the next command gets the (unchanged) token at once.
      const again = await s.run(['token', '--no-refresh'], { timeoutMs: LONG });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toBe(`${before.access_token}\n`);
      // Asked to refresh, it fails and says why.
      fake.tokenScript.push(edited((_body, reply) => { reply.trickleMs = 300; }));
      const forced = await s.run(['refresh', '--force'], { env: SHORT_DEADLINE, timeoutMs: LONG });
      expect(forced.code).toBe(1);
      expect(errorLine(forced.stderr)).toMatch(/the provider did not finish answering within 2 s/);
      expect(s.stored()).toEqual(before);
    }, LONG);

    it.concurrent('discovery, before a refresh → "did not finish answering": the still-valid token with that warning, no refresh request, credential untouched', async () => {
      const { fake, s, before } = await loggedIn();
      clearDiscoveryCache(s);
      fake.discoveryScript.push({ trickleMs: 300 });
      const res = await s.run(['token', '--min-ttl', '99999999'], { env: SHORT_DEADLINE, timeoutMs: LONG });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toBe(`${before.access_token}\n`);
      expect(res.stderr).toMatch(/Could not refresh the token of profile \S+ \(Discovery at .* failed: the provider did not finish answering within 2 s\); using the current one/);
      expect(s.stored()).toEqual(before);
      expect(fake.requestsTo('/token').filter((r) => r.form.get('grant_type') === 'refresh_token')).toEqual([]);
    }, LONG);

    it.concurrent('discovery at login → exit 1, nothing stored', async () => {
      const { fake, s } = await fresh();
      fake.discoveryScript.push({ trickleMs: 300 });
      const res = await s.login(fake, [], { env: SHORT_DEADLINE, timeoutMs: LONG });
      expect(res.code, res.stderr).toBe(1);
      expect(errorLine(res.stderr)).toMatch(/the provider did not finish answering within 2 s/);
      expectNothingStored(s);
    }, LONG);
  });

  describe('answers larger than 1 MiB are refused', () => {
    it.concurrent('a 2 MiB token response at login (Content-Length) → exit 1, nothing stored', async () => {
      const { fake, s } = await fresh();
      fake.tokenScript.push(edited((body) => { body.padding = 'x'.repeat(TWO_MIB); }));
      const res = await s.login(fake, [], { timeoutMs: LONG });
      expect(res.code, res.stderr).toBe(1);
      expect(errorLine(res.stderr)).toMatch(/the provider's answer was larger than 1 MiB/);
      expectNothingStored(s);
    }, LONG);

    it.concurrent('a 2 MiB access token on refresh (chunked, no Content-Length) → exit 1, credential untouched', async () => {
      const { fake, s, before } = await loggedIn();
      fake.tokenScript.push(edited((body, reply) => {
        body.access_token = `AT_${'a'.repeat(TWO_MIB)}`;
        reply.headers = { 'Transfer-Encoding': 'chunked' };
      }));
      const res = await s.run(['token', '--min-ttl', '99999999'], { timeoutMs: LONG });
      expect(res.code, res.stderr).toBe(1);
      expect(res.stdout).toBe('');
      expect(errorLine(res.stderr)).toMatch(/Refreshing the access token failed: the provider's answer was larger than 1 MiB/);
      expect(s.stored()).toEqual(before);
    }, LONG);
  });

  describe('numbers are clamped, never crash', () => {
    it.concurrent('expires_in 1e300 → login OK; `auth status` exit 0 with an expiry within a year', async () => {
      const { fake, s } = await fresh();
      fake.tokenScript.push(edited((body) => { body.expires_in = 1e300; }));
      const login = await s.login(fake);
      expect(login.code, login.stderr).toBe(0);
      const nowS = Date.now() / 1000;
      const stored = s.stored()!;
      expect(stored.expires_at).toBeGreaterThan(nowS + 3600);
      expect(stored.expires_at).toBeLessThanOrEqual(nowS + 366 * 24 * 3600);

      const status = await s.run(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      const expiresAt = Date.parse(JSON.parse(status.stdout).profiles[0].expiresAt);
      expect(expiresAt).toBeGreaterThan(Date.now() + 3600_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 366 * 24 * 3600_000);
      const human = await s.run(['status']);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stderr).toMatch(/Token: +valid, expires/);
      const token = await s.run(['token']);
      expect(token.code, token.stderr).toBe(0);
      expect(token.stdout).toBe(`${stored.access_token}\n`);
    }, LONG);

    it.concurrent('device flow: expires_in 1e12 and interval 0.001 → no crash; signed in, polls at least ~1 s apart', async () => {
      const { fake, s } = await fresh();
      fake.routes['/device_authorization'] = () => ({
        body: { device_code: 'DC_hostile', user_code: 'WDJB-MJHT', verification_uri: `${fake.base}/device`, expires_in: 1e12, interval: 0.001 },
      });
      for (let i = 0; i < 3; i++) fake.tokenScript.push({ status: 400, body: { error: 'authorization_pending' } });
      const res = await s.login(fake, ['--device', '--no-qr'], { timeoutMs: LONG });
      expect(res.code, res.stderr).toBe(0);
      expect(s.stored()?.access_token).toBe(fake.issued.accessTokens.at(-1));
      const polls = fake.requestsTo('/token').map((r) => r.t);
      expect(polls.length).toBe(4);
      for (const gap of gaps(polls)) expect(gap).toBeGreaterThanOrEqual(1000 - 50);
    }, LONG);

    it.concurrent('device flow: interval 0.001 with a normal expiry → polls at least ~1 s apart', async () => {
      const { fake, s } = await fresh();
      fake.routes['/device_authorization'] = () => ({
        body: { device_code: 'DC_fast', user_code: 'WDJB-MJHT', verification_uri: `${fake.base}/device`, expires_in: 600, interval: 0.001 },
      });
      for (let i = 0; i < 4; i++) fake.tokenScript.push({ status: 400, body: { error: 'authorization_pending' } });
      const res = await s.login(fake, ['--device', '--no-qr'], { timeoutMs: LONG });
      expect(res.code, res.stderr).toBe(0);
      const polls = fake.requestsTo('/token').map((r) => r.t);
      expect(polls.length).toBe(5);
      for (const gap of gaps(polls)) expect(gap).toBeGreaterThanOrEqual(1000 - 50);
    }, LONG);
  });

  describe('tokens outside RFC 6750 b64token are refused', () => {
    it.concurrent('an access token with CR LF at login → exit 1 naming the access token, nothing stored, never printed', async () => {
      const { fake, s } = await fresh();
      fake.tokenScript.push(edited((body) => { body.access_token = 'AT_x\r\nX-Evil: 1'; }));
      const res = await s.login(fake);
      expect(res.code, res.stderr).toBe(1);
      expect(errorLine(res.stderr)).toMatch(/issued an access token .*spaces, control or non-ASCII characters.*nothing was stored/);
      expect(res.stderr).not.toContain('X-Evil');
      expectNothingStored(s);
    }, LONG);

    it.concurrent('a refresh token with a space on refresh → exit 1 naming the refresh token, credential untouched', async () => {
      const { fake, s, before } = await loggedIn();
      fake.tokenScript.push(edited((body) => { body.refresh_token = 'RT_rotated with-space'; }));
      const res = await s.run(['token', '--min-ttl', '99999999']);
      expect(res.code, res.stderr).toBe(1);
      expect(res.stdout).toBe('');
      expect(errorLine(res.stderr)).toMatch(/issued a refresh token .*spaces, control or non-ASCII characters.*kept as it was/);
      expect(res.stderr).not.toContain('RT_rotated');
      expect(s.stored()).toEqual(before);
    }, LONG);

    it.concurrent('--with-token applies the same rule: visible ASCII outside b64token is refused (exit 2), nothing stored', async () => {
      const { home, cleanup } = makeHome();
      try {
        for (const token of ['pat_abc!def', 'pat_abc=def', 'pat "quoted"']) {
          const res = await runCli(['login', '--with-token'], { home, input: `${token}\n` });
          expect(res.code, token).toBe(2);
          expect(errorLine(res.stderr)).toMatch(/cannot be used as a Bearer token/);
          expect(res.stderr).not.toContain('pat_abc');
          expect(readdirSync(home).includes('credentials') ? readdirSync(join(home, 'credentials')).filter((f) => f.endsWith('.json')) : []).toEqual([]);
        }
        const ok = await runCli(['login', '--with-token'], { home, input: 'pat_abc-def.ghi~jkl+mno/pqr==\n' });
        expect(ok.code, ok.stderr).toBe(0);
      } finally {
        cleanup();
      }
    }, LONG);
  });
});
