import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorLine } from './support/cli.js';
import { fakeSessionsEach, awaitRedirect, expectNothingStored, rawGet, targetOf, connectionRefused } from './support/security.js';

// docs/security.md §2 (R08–R19) and the token-request side of §3/§5 (R26, R33, R34):
// what the CLI sends, checked where it arrives — at the fake AS.

const { setup } = fakeSessionsEach();
const B64URL = /^[A-Za-z0-9_-]+$/;

describe('PKCE, state and nonce (R08, R10–R13)', () => {
  it('R08 R10 R12 R13: five logins send response_type=code, S256 challenges matching RFC 7636 verifiers, and fresh state/nonce each time', async () => {
    const { fake, s } = await setup();
    const runs = 5;
    for (let i = 0; i < runs; i++) {
      const res = await s.login(fake);
      expect(res.code, res.stderr).toBe(0);
    }
    expect(fake.authorizations).toHaveLength(runs);
    expect(fake.verifiers).toHaveLength(runs);
    for (const [i, a] of fake.authorizations.entries()) {
      const p = a.params;
      expect(p.get('response_type')).toBe('code');
      expect(p.get('code_challenge_method')).toBe('S256');
      const state = p.get('state')!;
      const nonce = p.get('nonce')!;
      // 32 random bytes → 43 base64url characters (R12, R13).
      expect(state).toMatch(B64URL);
      expect(state.length).toBeGreaterThanOrEqual(43);
      expect(nonce).toMatch(B64URL);
      expect(nonce.length).toBeGreaterThanOrEqual(43);
      const { verifier, challenge, matches } = fake.verifiers[i]!;
      expect(verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
      expect(challenge).toBe(p.get('code_challenge'));
      expect(createHash('sha256').update(verifier).digest('base64url')).toBe(challenge);
      expect(matches).toBe(true);
    }
    const distinct = (xs: Array<string | null | undefined>) => new Set(xs).size;
    expect(distinct(fake.authorizations.map((a) => a.params.get('state')))).toBe(runs);
    expect(distinct(fake.authorizations.map((a) => a.params.get('nonce')))).toBe(runs);
    expect(distinct(fake.verifiers.map((v) => v.verifier))).toBe(runs);
    // The launched URL is the one the AS saw; the browser hook ran once per login (R09).
    expect(s.browserEntries().filter((e) => e.argv)).toHaveLength(runs);
    for (const e of s.browserEntries().filter((x) => x.argv)) expect((e.argv as string[]).length).toBe(1);
  });

  it('R11: metadata offering only "plain" PKCE aborts before the browser hook and before /authorize', async () => {
    const { fake, s } = await setup();
    fake.metadata.code_challenge_methods_supported = ['plain'];
    const res = await s.login(fake);
    expect(res.code).not.toBe(0);
    expect(errorLine(res.stderr)).toMatch(/PKCE with S256/);
    expect(s.browserEntries()).toEqual([]);
    expect(fake.requestsTo('/authorize')).toHaveLength(0);
    expectNothingStored(s);
  });

  it('R11: an AS rejecting the S256 request with invalid_request gets no downgraded retry', async () => {
    const { fake, s } = await setup();
    fake.authorizeScript = ({ state }) => ({ error: 'invalid_request', error_description: 'unsupported code_challenge_method', state: state ?? undefined, iss: fake.issuer });
    const res = await s.login(fake);
    expect(res.code).not.toBe(0);
    expect(errorLine(res.stderr)).toContain('invalid_request');
    const authz = fake.requestsTo('/authorize');
    expect(authz).toHaveLength(1);
    expect(authz[0]!.query.get('code_challenge_method')).toBe('S256');
    expect(fake.requests.some((r) => r.target.includes('plain') || r.body.includes('plain'))).toBe(false);
    expect(fake.requestsTo('/token')).toHaveLength(0);
    expectNothingStored(s);
  });
});

describe('system browser and PAR (R09, R18, R103)', () => {
  it('R09: the browser hook gets the authorization URL as its one argument; the CLI itself never requests /authorize', async () => {
    const { fake, s } = await setup('none');
    const child = s.spawnLogin(fake);
    const entries = await s.browserDone();
    expect(entries[0]!.argv).toHaveLength(1);
    const url = new URL((entries[0]!.argv as string[])[0]!);
    expect(`${url.origin}${url.pathname}`).toBe(`${fake.base}/authorize`);
    child.kill('SIGINT');
    const res = await child.result;
    expect(res.code).toBe(130);
    // The same URL was printed for the user to copy (docs/design.md §2).
    expect(res.stderr).toContain(`  ${url.href}\n`);
    expect(fake.requestsTo('/authorize')).toHaveLength(0);
    expect(res.stderr).not.toMatch(/password/i);
    expectNothingStored(s);
  });

  it('R18 R103: with PAR required, the launched URL carries only client_id and request_uri; the pushed request has the rest; each login pushes anew', async () => {
    const { fake, s } = await setup();
    fake.metadata.require_pushed_authorization_requests = true;
    for (let i = 0; i < 2; i++) {
      const res = await s.login(fake);
      expect(res.code, res.stderr).toBe(0);
    }
    const launched = s.browserEntries().filter((e) => e.argv).map((e) => new URL((e.argv as string[])[0]!));
    expect(launched).toHaveLength(2);
    for (const url of launched) {
      expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
      expect(url.href).not.toMatch(/state=|code_challenge=|nonce=/);
    }
    expect(launched[0]!.searchParams.get('request_uri')).not.toBe(launched[1]!.searchParams.get('request_uri'));
    const pushed = fake.requestsTo('/par');
    expect(pushed).toHaveLength(2);
    for (const p of pushed) {
      for (const field of ['code_challenge', 'state', 'nonce', 'redirect_uri', 'client_id']) expect(p.form.get(field), field).toBeTruthy();
      expect(p.form.get('code_challenge_method')).toBe('S256');
      expect(p.form.get('response_type')).toBe('code');
    }
  });
});

describe('transaction secrets and the redirect URI (R14, R15, R26, R34)', () => {
  it('R14 R15: the redirect URI is http://127.0.0.1:<the listening port>/callback; state and nonce are never written to disk', async () => {
    const { fake, s } = await setup('authorize');
    const child = s.spawnLogin(fake);
    const callback = await awaitRedirect(fake);
    const redirectUri = fake.authorizations[0]!.redirectUri;
    const redirect = new URL(redirectUri);
    expect(redirect.protocol).toBe('http:');
    expect(redirect.hostname).toBe('127.0.0.1');
    expect(redirect.pathname).toBe('/callback');
    expect(redirectUri).not.toMatch(/[?#]/);
    expect(redirectUri).toBe(`http://127.0.0.1:${redirect.port}/callback`);
    // The port in the redirect URI is the socket actually listening (ss -ltn when available).
    try {
      const ss = execFileSync('ss', ['-Hltn', `sport = :${redirect.port}`], { encoding: 'utf8' });
      expect(ss).toContain(`127.0.0.1:${redirect.port}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    expect(await connectionRefused(Number(redirect.port))).toBe(false);
    // While waiting, nothing under AUTH_HOME holds the state or nonce (R14).
    const state = fake.authorizations[0]!.params.get('state')!;
    const nonce = fake.authorizations[0]!.params.get('nonce')!;
    const text = s.allFilesText();
    expect(text).not.toContain(state);
    expect(text).not.toContain(nonce);
    const done = await rawGet(Number(redirect.port), targetOf(callback));
    expect(done.status).toBe(200);
    const res = await child.result;
    expect(res.code, res.stderr).toBe(0);
    const after = s.allFilesText();
    expect(after).not.toContain(state);
    expect(after).not.toContain(nonce);
    expect(after).not.toContain(fake.verifiers[0]!.verifier);
    expect(after).not.toContain(fake.issued.codes[0]!);
  });

  it('R14 R22: with a short timeout the login ends with exit 1 and a late, valid callback finds the port closed', async () => {
    const { fake, s } = await setup('authorize');
    const child = s.spawnLogin(fake, ['--timeout', '1']);
    const callback = await awaitRedirect(fake);
    const res = await child.result;
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/Timed out after 1 s/);
    expect(await connectionRefused(Number(callback.port))).toBe(true);
    expect(fake.requestsTo('/token')).toHaveLength(0);
    expectNothingStored(s);
  });

  it('R26 R33 R34: the token request repeats the authorization redirect_uri byte for byte, carries the verifier and client_id, and no client secret', async () => {
    const { fake, s } = await setup();
    const res = await s.login(fake);
    expect(res.code, res.stderr).toBe(0);
    const token = fake.requestsTo('/token')[0]!;
    expect(token.form.get('grant_type')).toBe('authorization_code');
    expect(token.form.get('redirect_uri')).toBe(fake.authorizations[0]!.params.get('redirect_uri'));
    expect(token.form.get('code_verifier')).toBeTruthy();
    expect(fake.verifiers[0]!.matches).toBe(true);
    expect(token.form.get('client_id')).toBe(fake.clientId);
    expect(token.form.has('client_secret')).toBe(false);
    expect(token.headers.authorization).toBeUndefined();
  });

  it('R33: refresh, revocation and device-flow requests also authenticate as a public client', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    expect((await s.run(['refresh', '--force'])).code).toBe(0);
    expect((await s.run(['logout'])).code).toBe(0);
    const device = await s.run(['login', '--device', '--no-qr', '--issuer', fake.issuer, '--client-id', fake.clientId]);
    expect(device.code, device.stderr).toBe(0);
    const checked = fake.requests.filter((r) => r.method === 'POST');
    expect(new Set(checked.map((r) => r.path))).toEqual(new Set(['/token', '/revoke', '/device_authorization']));
    for (const r of checked) {
      expect(r.form.get('client_id'), r.path).toBe(fake.clientId);
      expect(r.form.has('client_secret'), r.path).toBe(false);
      expect(r.headers.authorization, r.path).toBeUndefined();
    }
    // The device code is a secret: never on stderr (R52).
    expect(device.stderr).not.toContain(fake.issued.deviceCodes[0]!);
  });
});

describe('resource indicators and scope (R17, R19)', () => {
  for (const bad of ['api.example', 'https://api.example/#x', '/relative/path']) {
    it(`R17: --resource ${bad} is refused locally (exit 2) before any request`, async () => {
      const { fake, s } = await setup();
      const res = await s.login(fake, ['--resource', bad]);
      expect(res.code).toBe(2);
      expect(errorLine(res.stderr)).toMatch(/RFC 8707/);
      expect(fake.requests).toEqual([]);
      expect(s.browserEntries()).toEqual([]);
    });
  }

  it('R17: a valid resource is sent in both the authorization and the token request', async () => {
    const { fake, s } = await setup();
    const res = await s.login(fake, ['--resource', 'https://api.example/v1']);
    expect(res.code, res.stderr).toBe(0);
    expect(fake.authorizations[0]!.params.getAll('resource')).toEqual(['https://api.example/v1']);
    expect(fake.requestsTo('/token')[0]!.form.getAll('resource')).toEqual(['https://api.example/v1']);
  });

  it('R19: the scope the provider actually granted is what status shows', async () => {
    const { fake, s } = await setup();
    fake.tokenScript.push(async (ctx) => {
      const reply = await ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), scope: 'openid offline_access' } };
    });
    expect((await s.login(fake)).code).toBe(0);
    const status = await s.run(['status', '--json']);
    expect(JSON.parse(status.stdout).profiles[0].scopes).toEqual(['openid', 'offline_access']);
  });
});
