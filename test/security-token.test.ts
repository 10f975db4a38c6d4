import { describe, expect, it } from 'vitest';
import { errorLine } from './support/cli.js';
import { type FakeAs, type Reply } from './support/fake-as.js';
import { expectNoControlBytes, expectNothingStored, fakeSessions, type Session } from './support/security.js';

// docs/security.md §4–§5 (R32, R35) and R59: token-endpoint answers a real provider
// would never send — malformed bodies, resets — each of which must leave the
// store as it was. Independent cases run concurrently, each with its own fake AS and home.

const setup = fakeSessions();

/** A failed login: exit ≠0, nothing stored, `auth token` says not logged in (R44), no token marker on stderr. */
async function expectRejected(fake: FakeAs, s: Session, stderr: string, code: number | null): Promise<void> {
  expect(code, stderr).not.toBe(0);
  expectNothingStored(s);
  for (const marker of [...fake.issued.accessTokens, ...fake.issued.refreshTokens, ...fake.issued.idTokens]) expect(stderr).not.toContain(marker);
  expect(stderr).not.toMatch(/(?:AT|RT|IDT)_[0-9a-f]{8}-[0-9a-f]{4}-/);
  const token = await s.run(['token']);
  expect(token.code).toBe(4);
  expect(token.stdout).toBe('');
  expect(token.stderr).toMatch(/Not logged in/);
}

describe('R35 malformed token responses, R32 resets', () => {
  const at = () => `AT_${crypto.randomUUID()}`;
  const bad: Array<[string, () => Reply]> = [
    ['token_type "mac"', () => ({ body: { access_token: at(), token_type: 'mac', expires_in: 3600 } })],
    ['token_type with terminal escapes', () => ({ body: { access_token: at(), token_type: 'x\u001b[2J\u001b]52;c;AAAA\u0007', expires_in: 3600 } })],
    ['token_type missing', () => ({ body: { access_token: at(), expires_in: 3600 } })],
    ['expires_in "-5"', () => ({ body: { access_token: at(), token_type: 'Bearer', expires_in: '-5' } })],
    ['expires_in -5', () => ({ body: { access_token: at(), token_type: 'Bearer', expires_in: -5 } })],
    ['no access_token', () => ({ body: { token_type: 'Bearer', expires_in: 3600, refresh_token: `RT_${crypto.randomUUID()}` } })],
    ['access_token not a string', () => ({ body: { access_token: 12345, token_type: 'Bearer' } })],
    ['refresh_token not a string', () => ({ body: { access_token: at(), token_type: 'Bearer', expires_in: 3600, refresh_token: 42 } })],
    ['scope not a string', () => ({ body: { access_token: at(), token_type: 'Bearer', expires_in: 3600, scope: ['openid'] } })],
    ['an HTML body', () => ({ body: `<html><body>AT_${crypto.randomUUID()} <script>x</script></body></html>`, headers: { 'Content-Type': 'text/html' } })],
    ['a JSON array', () => ({ body: '["AT_x"]', headers: { 'Content-Type': 'application/json' } })],
    ['HTTP 500 with a JSON token body', () => ({ status: 500, body: { access_token: at(), token_type: 'Bearer' } })],
    ['an OAuth error with escapes in error_description', () => ({ status: 400, body: { error: 'invalid_grant', error_description: 'no\u001b]52;c;ZXZpbA==\u0007pe \u202eevil' } })],
  ];
  for (const [name, reply] of bad) {
    it.concurrent(`R35: a code exchange answered with ${name} → exit ≠0, nothing stored, no token on stderr`, async () => {
      const { fake, s } = await setup();
      const r = reply();
      fake.tokenScript.push(r);
      const res = await s.login(fake);
      await expectRejected(fake, s, res.stderr, res.code);
      expectNoControlBytes(res.stderr);
      expect(errorLine(res.stderr)).toMatch(/Sign-in failed|not completed|unexpected response|provider/i);
      expect(res.stderr).not.toMatch(/at Object\.|at async|node_modules/);
    });
  }

  it.concurrent('R35: a refresh answered with token_type "mac" leaves the stored credential unchanged', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored();
    fake.tokenScript.push({ body: { access_token: `AT_${crypto.randomUUID()}`, token_type: 'mac', expires_in: 3600, refresh_token: `RT_${crypto.randomUUID()}` } });
    const res = await s.run(['refresh', '--force']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).not.toMatch(/(?:AT|RT)_[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(s.stored()).toEqual(before);
  });

  it.concurrent('R32: a token endpoint that reads the code and resets the connection gets exactly one request; nothing stored', async () => {
    const { fake, s } = await setup();
    fake.tokenScript.push({ reset: true });
    const res = await s.login(fake);
    await expectRejected(fake, s, res.stderr, res.code);
    expect(fake.requestsTo('/token')).toHaveLength(1);
    expect(errorLine(res.stderr)).toMatch(/could not reach the provider|network|ECONNRESET|socket/i);
    expect(res.stderr).not.toContain(fake.issued.codes[0]!);
  });

  it.concurrent('R59: a refresh whose connection is reset is not retried and the stored credential is kept', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored();
    fake.tokenScript.push({ reset: true });
    const res = await s.run(['refresh', '--force']);
    expect(res.code).toBe(1);
    expect(fake.requestsTo('/token')).toHaveLength(2);
    expect(s.stored()).toEqual(before);
    expect(res.stderr).not.toContain(before!.refresh_token as string);
  });
});

describe('R36 R37 expiry bookkeeping; access tokens are opaque', () => {
  it.concurrent('R37: an access token that is a JWT with a past exp is not decoded — with expires_in 3600 it is printed without a refresh', async () => {
    const { fake, s } = await setup();
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) - 3600, jti: 'AT_jwt' })).toString('base64url');
    const jwtAt = `${header}.${payload}.`;
    fake.tokenScript.push(async (ctx) => {
      const reply = await ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), access_token: jwtAt, expires_in: 3600 } };
    });
    expect((await s.login(fake)).code).toBe(0);
    const res = await s.run(['token']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${jwtAt}\n`);
    expect(fake.requestsTo('/token')).toHaveLength(1);
  });

  it.concurrent('R36: expires_in 30 (inside the 60 s skew margin) → the next `auth token` refreshes first, even with --min-ttl 0', async () => {
    const { fake, s } = await setup();
    fake.expiresIn = 30;
    expect((await s.login(fake)).code).toBe(0);
    const first = s.stored()!.access_token as string;
    fake.expiresIn = 3600;
    const res = await s.run(['token', '--min-ttl', '0']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).not.toBe(first);
    expect(fake.requestsTo('/token').map((r) => r.form.get('grant_type'))).toEqual(['authorization_code', 'refresh_token']);
    // The refreshed token has an hour: served as it is.
    expect((await s.run(['token'])).stdout).toBe(res.stdout);
    expect(fake.requestsTo('/token')).toHaveLength(2);
  });

  it.concurrent('docs/design.md §2: a token that expires within --min-ttl is refreshed first, however long its lifetime (3600 s token, --min-ttl 7200)', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const first = s.stored()!.access_token as string;
    expect((await s.run(['token', '--min-ttl', '3000'])).stdout).toBe(`${first}\n`);
    expect(fake.requestsTo('/token')).toHaveLength(1);
    const res = await s.run(['token', '--min-ttl', '7200']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).not.toBe(first);
    expect(fake.requestsTo('/token').map((r) => r.form.get('grant_type'))).toEqual(['authorization_code', 'refresh_token']);
  });

  it.concurrent('R36: the absolute expiry (received_at + expires_in) is stored; expires_in 3600 → no refresh', async () => {
    const { fake, s } = await setup();
    const before = Math.floor(Date.now() / 1000);
    expect((await s.login(fake)).code).toBe(0);
    const after = Math.floor(Date.now() / 1000);
    const expiresAt = s.stored()!.expires_at as number;
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3600);
    expect(expiresAt).toBeLessThanOrEqual(after + 3600);
    expect((await s.run(['token'])).code).toBe(0);
    expect(fake.requestsTo('/token')).toHaveLength(1);
  });
});
