import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeAs, type FakeAs } from './support/fake-as.js';
import { expectNoControlBytes, expectNothingStored, session, type Session } from './support/security.js';

// docs/security.md §10 (R68–R72) with docs/design.md §2's exit codes for `auth logout`:
// 0 when revoked or when the provider has no revocation endpoint, 1 when a
// revocation was attempted and failed; the local copy is always deleted.

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function loggedIn(): Promise<{ fake: FakeAs; s: Session; at: string; rt: string }> {
  const fake = await startFakeAs();
  const s = session();
  cleanups.push(() => fake.close(), () => s.cleanup());
  const res = await s.login(fake);
  expect(res.code, res.stderr).toBe(0);
  const stored = s.stored()!;
  return { fake, s, at: stored.access_token as string, rt: stored.refresh_token as string };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('R68–R72 logout', () => {
  it('R68: logout revokes the refresh token first, then the access token, with hints and client_id', async () => {
    const { fake, s, at, rt } = await loggedIn();
    const res = await s.run(['logout']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('revoked at server and removed locally');
    const revokes = fake.requestsTo('/revoke');
    expect(revokes.map((r) => [r.form.get('token'), r.form.get('token_type_hint')])).toEqual([[rt, 'refresh_token'], [at, 'access_token']]);
    for (const r of revokes) {
      expect(r.method).toBe('POST');
      expect(r.form.get('client_id')).toBe(fake.clientId);
      expect(r.headers.authorization).toBeUndefined();
    }
    expect(revokes[0]!.t).toBeLessThan(revokes[1]!.t);
    expectNothingStored(s);
  });

  it('R69: a provider without a revocation endpoint → says so, deletes locally, exit 0 (docs/design.md §2)', async () => {
    const { fake, s } = await loggedIn();
    fake.metadata.revocation_endpoint = undefined;
    const res = await s.run(['logout']);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('provider has no revocation endpoint; removed locally');
    expect(fake.requestsTo('/revoke')).toHaveLength(0);
    expectNothingStored(s);
  });

  it('R69: the revocation endpoint comes from the issuer of the stored token — a non-https one is never used', async () => {
    const { fake, s } = await loggedIn();
    fake.metadata.revocation_endpoint = 'http://192.0.2.10/revoke';
    const res = await s.run(['logout']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/revocation failed .*removed locally/);
    expectNothingStored(s);
  });

  it('R70: 503 with Retry-After: 1, then 200 → retried after ≥1 s, exit 0', async () => {
    const { fake, s, rt } = await loggedIn();
    fake.revokeScript.push({ status: 503, headers: { 'Retry-After': '1' } });
    const res = await s.run(['logout']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('revoked at server');
    const revokes = fake.requestsTo('/revoke');
    expect(revokes.map((r) => r.form.get('token_type_hint'))).toEqual(['refresh_token', 'refresh_token', 'access_token']);
    expect(revokes[0]!.form.get('token')).toBe(rt);
    expect(revokes[1]!.t - revokes[0]!.t).toBeGreaterThanOrEqual(950);
    expectNothingStored(s);
  });

  it('R70: a revocation error is reported (sanitised), the local copy is deleted, exit 1', async () => {
    const { fake, s } = await loggedIn();
    fake.revokeScript.push({ status: 400, body: { error: 'invalid_client', error_description: 'nope\u001b]52;c;ZXZpbA==\u0007\u202e' } });
    const res = await s.run(['logout']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('revocation failed');
    expect(res.stderr).toContain('invalid_client');
    expectNoControlBytes(res.stderr);
    expectNothingStored(s);
  });

  it('R71: an unreachable revocation endpoint → local deletion, a warning that tokens may remain, exit 1', async () => {
    const { fake, s, at, rt } = await loggedIn();
    fake.metadata.revocation_endpoint = `http://127.0.0.1:${await closedPort()}/revoke`;
    const res = await s.run(['logout']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/revocation failed \(.*\); removed locally/);
    expect(res.stderr).toMatch(/may stay valid/);
    expect(res.stderr).not.toContain(at);
    expect(res.stderr).not.toContain(rt);
    expectNothingStored(s);
  });

  it('R72: nothing survives logout — no token marker anywhere under AUTH_HOME; auth token says not logged in', async () => {
    const { fake, s } = await loggedIn();
    expect((await s.run(['refresh', '--force'])).code).toBe(0);
    expect((await s.run(['logout'])).code).toBe(0);
    const text = s.allFilesText();
    for (const marker of [...fake.issued.accessTokens, ...fake.issued.refreshTokens, ...fake.issued.idTokens]) expect(text).not.toContain(marker);
    expect(text).not.toMatch(/(?:AT|RT|IDT)_[0-9a-f]{8}-[0-9a-f]{4}-/);
    const token = await s.run(['token']);
    expect(token.code).toBe(4);
    expect(token.stdout).toBe('');
    expect(token.stderr).toMatch(/Not logged in/);
    // Idempotent: a second logout is a no-op with exit 0.
    const again = await s.run(['logout']);
    expect(again.code).toBe(0);
    expect(fake.requestsTo('/revoke')).toHaveLength(2);
  });
});
