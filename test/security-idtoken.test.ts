import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { errorLine } from './support/cli.js';
import { type FakeAs, type IdTokenOptions } from './support/fake-as.js';
import { expectNothingStored, fakeSessions, type Session } from './support/security.js';

// docs/security.md §6 (R38–R44): ID tokens a real provider would never send, each of
// which must leave nothing stored. Independent cases run concurrently, each with its own fake AS and home.

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

const now = () => Math.floor(Date.now() / 1000);

describe('R38–R42 ID token validation at login', () => {
  const cases: Array<[string, IdTokenOptions, Record<string, unknown>?]> = [
    ['R38: iss off by a trailing slash', { claims: { iss: 'TRAILING' } }],
    ['R38: aud names another client', { claims: { aud: 'other-client' } }],
    ['R38: aud has another client besides ours and no azp', { claims: { aud: ['fake-cli', 'other-client'] } }],
    ['R38: aud has another client besides ours, even with azp = our client', { claims: { aud: ['fake-cli', 'other-client'], azp: 'fake-cli' } }],
    ['R38: azp names another client', { claims: { azp: 'other-client' } }],
    ['R39: nonce missing', { claims: { nonce: undefined } }],
    ['R39: nonce different', { claims: { nonce: 'not-the-nonce-we-sent' } }],
    ['R40: exp two minutes in the past', { claims: { exp: 'PAST' } }],
    ['R40: iat an hour in the future', { claims: { iat: 'FUTURE' } }],
    ['R40: iat a day old', { claims: { iat: 'OLD' } }],
    ['R40: iat missing', { claims: { iat: undefined } }],
    ['R41: alg none (even though the metadata lists none)', { mode: 'none' }, { id_token_signing_alg_values_supported: ['RS256', 'none'] }],
    ['R41: HS256 signed with the client_id as the key', { mode: 'hs256' }],
    ['R41: HS256 even when the metadata lists HS256', { mode: 'hs256' }, { id_token_signing_alg_values_supported: ['RS256', 'HS256'] }],
    ['R42: one signature byte flipped', { mode: 'flip' }],
    ['R42: signed by a key not in the JWKS under a known kid', { mode: 'foreign-key' }],
    ['R42: signed by a key with a kid the JWKS does not have', { mode: 'unknown-kid' }],
  ];
  for (const [name, idToken, metadata] of cases) {
    it.concurrent(`${name} → rejected, nothing stored (R44)`, async () => {
      const { fake, s } = await setup();
      const t = now();
      const claims = { ...idToken.claims };
      // Values that need the fake's issuer or the current time.
      if (claims.iss === 'TRAILING') claims.iss = `${fake.issuer}/`;
      if (claims.exp === 'PAST') claims.exp = t - 120;
      if (claims.iat === 'FUTURE') claims.iat = t + 3600;
      if (claims.iat === 'OLD') claims.iat = t - 86400;
      fake.idToken = { ...idToken, claims };
      Object.assign(fake.metadata, metadata);
      const res = await s.login(fake);
      await expectRejected(fake, s, res.stderr, res.code);
      expect(fake.requestsTo('/token')).toHaveLength(1);
      // The error line, not all of stderr: the printed authorization URL itself carries `nonce=`.
      expect(errorLine(res.stderr)).toMatch(/ID token|id_token|JWT|signature|nonce|issuer|audience|alg/i);
      // The browser page says it failed, too.
      const page = (await s.browserDone()).find((e) => 'callbackStatus' in e);
      expect(page?.callbackStatus).toBe(400);
    });
  }

  it.concurrent('R39 R13: an ID token carrying the previous login\'s nonce is rejected', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const previous = fake.authorizations[0]!.params.get('nonce')!;
    expect((await s.run(['logout', '--no-revoke'])).code).toBe(0);
    fake.idToken = { claims: { nonce: previous } };
    const res = await s.login(fake);
    expect(fake.authorizations[1]!.params.get('nonce')).not.toBe(previous);
    await expectRejected(fake, s, res.stderr, res.code);
  });

  it.concurrent('R42 R44: a refresh whose ID token has a flipped signature byte is not used; the stored credential stays', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored();
    fake.idToken = { mode: 'flip' };
    const res = await s.run(['refresh', '--force']);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/signature/);
    expect(res.stderr).not.toContain(fake.issued.accessTokens[1]!);
    expect(s.stored()).toEqual(before);
  });

  it.concurrent('R42: after a key rotation (new kid) a refreshed ID token is accepted, with one JWKS fetch', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const oldKid = decodeProtectedHeader(s.stored()!.id_token as string).kid;
    await fake.rotateKeys();
    const jwksBefore = fake.requestsTo('/jwks').length;
    const res = await s.run(['refresh', '--force']);
    expect(res.code, res.stderr).toBe(0);
    expect(fake.requestsTo('/jwks').length - jwksBefore).toBe(1);
    const newKid = decodeProtectedHeader(s.stored()!.id_token as string).kid;
    expect(newKid).not.toBe(oldKid);
  });
});

describe('R43 refreshed ID tokens keep the identity', () => {
  const changes: Array<[string, (fake: FakeAs) => Record<string, unknown>]> = [
    ['another sub', () => ({ sub: 'someone-else' })],
    ['another auth_time', () => ({ auth_time: now() - 5000 })],
    ['a nonce the login never used', () => ({ nonce: 'injected-nonce' })],
  ];
  for (const [what, claims] of changes) {
    it.concurrent(`R43: a refresh returning an ID token with ${what} → auth token exits 4, stdout empty, store cleared`, async () => {
      const { fake, s } = await setup();
      fake.expiresIn = 0; // due for refresh at once
      expect((await s.login(fake)).code).toBe(0);
      fake.idToken = { claims: claims(fake) };
      const res = await s.run(['token']);
      expect(fake.requestsTo('/token')).toHaveLength(2);
      expect(res.code).toBe(4);
      expect(res.stdout).toBe('');
      expect(errorLine(res.stderr)).toMatch(/different identity|ended/);
      expectNothingStored(s);
    });
  }

  it.concurrent('R38 R43: a refresh returning an ID token for extra audiences is not used and the stored credential stays', async () => {
    const { fake, s } = await setup();
    fake.expiresIn = 0;
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored();
    fake.idToken = { claims: { aud: ['fake-cli', 'other-client'], azp: 'fake-cli' } };
    const res = await s.run(['token']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(errorLine(res.stderr)).toContain('also addressed to other clients');
    expect(s.stored()).toEqual(before);
    expect(res.stderr).not.toContain(fake.issued.accessTokens.at(-1)!);
  });

  it.concurrent('R43: a refresh keeping the identity is accepted (control)', async () => {
    const { fake, s } = await setup();
    fake.expiresIn = 0;
    expect((await s.login(fake)).code).toBe(0);
    fake.expiresIn = 3600;
    const res = await s.run(['token']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${fake.issued.accessTokens[1]}\n`);
  });
});
