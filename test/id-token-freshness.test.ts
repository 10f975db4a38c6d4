import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, ROOT, runCli, type CliResult } from './support/cli.js';
import type { FakeAs, IdTokenOptions, Reply } from './support/fake-as.js';
import { fakeSessions, type Session } from './support/security.js';

// docs/design.md §2 `auth token --id-token`: the ID token follows the access token's freshness rule
// with its own `exp` — refreshed when due, never printed once expired (exit 4, empty stdout).
// docs/security.md R90: the account shown after login and in `auth status` comes from userinfo when
// the ID token names only the subject. The CLI runs as a child process against the fake AS.

const setup = fakeSessions();
const nowS = () => Math.floor(Date.now() / 1000);
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
const errorLine = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('error:')) ?? '';
const refreshes = (fake: FakeAs) => fake.requestsTo('/token').filter((r) => r.form.get('grant_type') === 'refresh_token');

/** The sign-in's token answer carries an ID token with these claims (`exp` computed when the request arrives). */
function signInWithIdToken(fake: FakeAs, claims: () => Record<string, unknown>): void {
  fake.tokenScript.push((ctx) => ctx.defaultReply({ claims: claims() }));
}

/** A refresh answer without an ID token (OpenID Connect Core §12.2 allows it). */
const refreshWithoutIdToken = async (ctx: { defaultReply(o?: IdTokenOptions): Promise<Reply> }): Promise<Reply> => {
  const reply = await ctx.defaultReply();
  const body = { ...(reply.body as Record<string, unknown>) };
  delete body.id_token;
  return { ...reply, body };
};

// test/fast-path.test.ts's probe: whether the full CLI (dist/main.cjs) was loaded.
const PROBE = join(ROOT, 'test', 'support', 'fast-probe.cjs');
async function probed(s: Session, args: string[]): Promise<CliResult & { path: string }> {
  const out = join(s.home, `probe-${process.hrtime.bigint()}`);
  const res = await s.run(args, { env: { NODE_OPTIONS: `--require ${PROBE}`, AUTH_PROBE_OUT: out } });
  const path = existsSync(out) ? readFileSync(out, 'utf8').trim() : 'none';
  rmSync(out, { force: true });
  return { ...res, path };
}

describe('auth token --id-token: the ID token\'s own expiry', () => {
  it.concurrent('an ID token expiring in 30 s (access token 3600 s) is refreshed once; the new ID token is printed, then served by the fast path', async () => {
    const { fake, s } = await setup();
    signInWithIdToken(fake, () => ({ exp: nowS() + 30 }));
    expect((await s.login(fake)).code).toBe(0);
    const first = s.stored()!;
    expect(first.id_token_expires_at).toBe(claimsOf(first.id_token as string).exp);

    // The plain access token is not due: no refresh, answered by the fast path.
    expect((await s.run(['token'])).code).toBe(0); // the full CLI indexes config.yaml for the fast path
    const plain = await probed(s, ['token']);
    expect(plain).toMatchObject({ code: 0, path: 'fast', stdout: `${first.access_token}\n` });
    expect(refreshes(fake)).toHaveLength(0);

    const res = await probed(s, ['token', '--id-token']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.path).toBe('slow');
    expect(res.stderr).toBe('');
    expect(refreshes(fake)).toHaveLength(1);
    expect(refreshes(fake)[0]!.form.get('refresh_token')).toBe(first.refresh_token);
    const printed = res.stdout.trim();
    expect(res.stdout).toBe(`${fake.issued.idTokens.at(-1)}\n`);
    expect(printed).not.toBe(first.id_token);
    expect(claimsOf(printed).exp).toBeGreaterThan(nowS() + 300);
    const stored = s.stored()!;
    expect(stored.id_token).toBe(printed);
    expect(stored.id_token_expires_at).toBe(claimsOf(printed).exp);

    // Fresh now: the fast path prints it, byte for byte, with no further request.
    const again = await probed(s, ['token', '--id-token']);
    expect(again).toMatchObject({ code: 0, path: 'fast', stdout: `${printed}\n`, stderr: '' });
    expect(refreshes(fake)).toHaveLength(1);
  });

  it.concurrent('--min-ttl applies to the ID token, with the 60 s floor (R36)', async () => {
    const { fake, s } = await setup();
    signInWithIdToken(fake, () => ({ exp: nowS() + 600 }));
    expect((await s.login(fake)).code).toBe(0);
    expect((await s.run(['token', '--id-token'])).code).toBe(0);
    expect(refreshes(fake)).toHaveLength(0);
    const wide = await s.run(['token', '--id-token', '--min-ttl', '900']);
    expect(wide.code, wide.stderr).toBe(0);
    expect(refreshes(fake)).toHaveLength(1);
    expect(wide.stdout).toBe(`${s.stored()!.id_token}\n`);

    const { fake: fake2, s: s2 } = await setup();
    signInWithIdToken(fake2, () => ({ exp: nowS() + 45 }));
    expect((await s2.login(fake2)).code).toBe(0);
    const floor = await s2.run(['token', '--id-token', '--min-ttl', '0']);
    expect(floor.code, floor.stderr).toBe(0);
    expect(refreshes(fake2)).toHaveLength(1);
    expect(floor.stdout).toBe(`${fake2.issued.idTokens.at(-1)}\n`);
  });

  it.concurrent('--no-refresh with an expired ID token: exit 4, empty stdout, no request; the access token is still served', async () => {
    const { fake, s } = await setup();
    // 10 s past `exp` is inside the library's 30 s clock tolerance, so the sign-in accepts it.
    signInWithIdToken(fake, () => ({ exp: nowS() - 10 }));
    const login = await s.login(fake);
    expect(login.code, login.stderr).toBe(0);
    const requests = fake.requests.length;
    const res = await s.run(['token', '--id-token', '--no-refresh']);
    expect(res.code).toBe(4);
    expect(res.stdout).toBe('');
    expect(errorLine(res.stderr)).toBe('error: The credential for profile default cannot be used: the ID token has expired and --no-refresh was given.');
    expect(res.stderr).toContain('auth login');
    expect(fake.requests.length).toBe(requests);
    const at = await s.run(['token', '--no-refresh']);
    expect(at).toMatchObject({ code: 0, stdout: `${s.stored()!.access_token}\n` });
  });

  it.concurrent('a credential stored without id_token_expires_at: the expiry is read from the ID token itself', async () => {
    const { fake, s } = await setup();
    signInWithIdToken(fake, () => ({ exp: nowS() - 10 }));
    expect((await s.login(fake)).code).toBe(0);
    const file = join(s.home, 'credentials', 'default.json');
    const legacy = s.stored()!;
    delete legacy.id_token_expires_at;
    writeFileSync(file, JSON.stringify(legacy), { mode: 0o600 });

    const refused = await s.run(['token', '--id-token', '--no-refresh']);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toBe('');
    expect(errorLine(refused.stderr)).toContain('the ID token has expired');

    expect((await s.run(['token'])).code).toBe(0); // indexes config.yaml for the fast path
    const res = await probed(s, ['token', '--id-token']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.path).toBe('slow');
    expect(refreshes(fake)).toHaveLength(1);
    expect(res.stdout).toBe(`${fake.issued.idTokens.at(-1)}\n`);
    expect(s.stored()!.id_token_expires_at).toBe(claimsOf(res.stdout.trim()).exp);
  });

  it.concurrent('a valid access token with an expired ID token and no refresh token: exit 4, empty stdout', async () => {
    const { fake, s } = await setup();
    signInWithIdToken(fake, () => ({ exp: nowS() - 10 }));
    const login = await s.login(fake, ['--scope', 'openid', 'email']);
    expect(login.code, login.stderr).toBe(0);
    expect(s.stored()!.refresh_token).toBeUndefined();
    expect((await s.run(['token'])).code).toBe(0);
    for (const args of [['token', '--id-token'], ['token', '--id-token', '--format', 'json']]) {
      const res = await probed(s, args);
      expect(res.code).toBe(4);
      expect(res.path).toBe('slow');
      expect(res.stdout).toBe('');
      expect(errorLine(res.stderr)).toBe('error: The credential for profile default cannot be used: the ID token has expired and the provider issued no refresh token.');
    }
    expect(fake.requestsTo('/token')).toHaveLength(1);
    const at = await s.run(['token']);
    expect(at).toMatchObject({ code: 0, stdout: `${s.stored()!.access_token}\n` });
  });

  it.concurrent('a refresh that returns no new ID token: the expired old one is not printed (exit 4); the rotated tokens are kept', async () => {
    const { fake, s } = await setup();
    signInWithIdToken(fake, () => ({ exp: nowS() - 10 }));
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored()!;
    fake.tokenScript.push(refreshWithoutIdToken);
    const res = await s.run(['token', '--id-token']);
    expect(res.code).toBe(4);
    expect(res.stdout).toBe('');
    expect(errorLine(res.stderr)).toBe('error: The credential for profile default cannot be used: the ID token has expired and the provider sent no new one with the refresh.');
    expect(refreshes(fake)).toHaveLength(1);
    for (const marker of [...fake.issued.accessTokens, ...fake.issued.refreshTokens, ...fake.issued.idTokens]) expect(res.stderr).not.toContain(marker);
    // The rotation was stored (the old refresh token is dead at the provider); the old ID token stays.
    const after = s.stored()!;
    expect(after.refresh_token).toBe(fake.issued.refreshTokens.at(-1));
    expect(after.access_token).toBe(fake.issued.accessTokens.at(-1));
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.id_token).toBe(before.id_token);
    expect(after.id_token_expires_at).toBe(before.id_token_expires_at);
    // The next call refreshes again, and prints the ID token the provider now sends.
    const next = await s.run(['token', '--id-token']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toBe(`${fake.issued.idTokens.at(-1)}\n`);
    expect(refreshes(fake)).toHaveLength(2);
  });

  it.concurrent('a refresh that returns no new ID token while the old one is still valid: the old one is printed', async () => {
    const { fake, s } = await setup();
    signInWithIdToken(fake, () => ({ exp: nowS() + 120 }));
    expect((await s.login(fake)).code).toBe(0);
    const idToken = s.stored()!.id_token;
    fake.tokenScript.push(refreshWithoutIdToken);
    const res = await s.run(['token', '--id-token']);
    expect(res.code, res.stderr).toBe(0);
    expect(refreshes(fake)).toHaveLength(1);
    expect(res.stdout).toBe(`${idToken}\n`);
  });

  it.concurrent('five concurrent `auth token --id-token` with a due ID token: one refresh, five identical new ID tokens', async () => {
    const { fake, s } = await setup();
    signInWithIdToken(fake, () => ({ exp: nowS() + 30 }));
    expect((await s.login(fake)).code).toBe(0);
    const results = await Promise.all(Array.from({ length: 5 }, () => s.run(['token', '--id-token'])));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(refreshes(fake)).toHaveLength(1);
    expect(new Set(results.map((r) => r.stdout))).toEqual(new Set([`${fake.issued.idTokens.at(-1)}\n`]));
  });
});

describe('R90: the account from userinfo when the ID token names only the subject', () => {
  const noDisplayClaims = { email: undefined, name: undefined, preferred_username: undefined };

  it.concurrent('email and name from userinfo: the login line, `auth status --json` and a later refresh show the email', async () => {
    const { fake, s } = await setup();
    fake.idToken = { claims: noDisplayClaims };
    fake.userinfoScript.push({ body: { sub: 'user-1', email: 'ui@fake.example', name: 'Ui User' } });
    const login = await s.login(fake);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`✓ Logged in to ${fake.issuer} as ui@fake.example (profile default)`);
    // One userinfo request, with the new access token in the Authorization header only (R88).
    const [info, ...more] = fake.requestsTo('/userinfo');
    expect(more).toHaveLength(0);
    expect(info!.headers.authorization).toBe(`Bearer ${fake.issued.accessTokens[0]}`);
    expect(info!.query.has('access_token')).toBe(false);
    expect(s.stored()!.account).toEqual({ sub: 'user-1', email: 'ui@fake.example', name: 'Ui User' });

    const status = await s.run(['status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).profiles[0]).toMatchObject({ account: 'ui@fake.example', loggedIn: true });
    const text = await s.run(['status']);
    expect(text.stderr).toMatch(/Account:\s+ui@fake\.example/);

    // A refreshed ID token (again without email) keeps the display fields for the same subject.
    const refresh = await s.run(['refresh', '--force']);
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(refreshes(fake)).toHaveLength(1);
    expect(fake.requestsTo('/userinfo')).toHaveLength(1);
    expect(JSON.parse((await s.run(['status', '--json'])).stdout).profiles[0].account).toBe('ui@fake.example');
  });

  it.concurrent('userinfo about another subject is ignored (a debug line says so): the account stays the ID token\'s sub', async () => {
    const { fake, s } = await setup();
    fake.idToken = { claims: noDisplayClaims };
    fake.userinfoScript.push({ body: { sub: 'someone-else', email: 'victim@fake.example', name: 'Victim' } });
    const login = await s.login(fake, ['--debug']);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`✓ Logged in to ${fake.issuer} as user-1 (profile default)`);
    expect(login.stderr).toMatch(/user info names a different subject than the ID token; ignored/);
    expect(login.stderr).not.toContain('victim@fake.example');
    expect(fake.requestsTo('/userinfo')).toHaveLength(1);
    expect(s.stored()!.account).toEqual({ sub: 'user-1' });
    expect(s.allFilesText()).not.toContain('victim@fake.example');
    const status = await s.run(['status', '--json']);
    expect(JSON.parse(status.stdout).profiles[0].account).toBe('user-1');
  });

  // A GET is retried twice after a reset (src/flows/retry.ts), not after a 500.
  for (const [what, replies] of [
    ['HTTP 500', [{ status: 500, body: { error: 'server_error' } }]],
    ['reset connections', [{ reset: true }, { reset: true }, { reset: true }]],
  ] as Array<[string, Reply[]]>) {
    it.concurrent(`userinfo failing with ${what} does not fail the login: exit 0, the account is the sub`, async () => {
      const { fake, s } = await setup();
      fake.idToken = { claims: noDisplayClaims };
      fake.userinfoScript.push(...replies);
      const login = await s.login(fake);
      expect(login.code, login.stderr).toBe(0);
      expect(errorLine(login.stderr)).toBe('');
      expect(login.stderr).toContain(`✓ Logged in to ${fake.issuer} as user-1 (profile default)`);
      expect(fake.requestsTo('/userinfo')).toHaveLength(replies.length);
      expect(s.stored()!.account).toEqual({ sub: 'user-1' });
      expect((await s.run(['token'])).code).toBe(0);
    });
  }

  it.concurrent('an ID token that carries the email: no userinfo request', async () => {
    const { fake, s } = await setup();
    const login = await s.login(fake);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`as mallory@fake.example (profile default)`);
    expect(fake.requestsTo('/userinfo')).toHaveLength(0);
  });
});

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// The same behaviour against the real oidc-provider: with conformIdTokenClaims it keeps email and
// name out of the ID token (userinfo only), and idTokenTTL makes the ID token outlive nothing.
describe('against oidc-provider: userinfo-only claims, short-lived ID tokens', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-idt-');
  const stored = () => JSON.parse(readFileSync(join(home, 'credentials', 'default.json'), 'utf8')) as Record<string, unknown>;

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600, idTokenTTL: 90, conformIdTokenClaims: true });
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  it('login names the email from userinfo; `auth token --id-token` refreshes the 90 s ID token and prints the new one', async () => {
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
    const first = stored();
    expect(claimsOf(first.id_token as string).email).toBeUndefined();
    expect(login.stderr).toContain(`✓ Logged in to ${sandbox.issuer} as alice@example.com (profile default)`);
    const status = await runCli(['status', '--json'], { home });
    expect(JSON.parse(status.stdout).profiles[0].account).toBe('alice@example.com');

    // RS256 is deterministic: an ID token re-issued within the same second would be byte-identical.
    await new Promise((r) => setTimeout(r, 1100));
    const grants = sandbox.grants('refresh_token');
    const res = await runCli(['token', '--id-token'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(sandbox.grants('refresh_token') - grants).toBe(1);
    const printed = res.stdout.trim();
    expect(printed).not.toBe(first.id_token);
    expect(res.stdout).toBe(`${stored().id_token}\n`);
    const claims = claimsOf(printed);
    expect(claims).toMatchObject({ iss: sandbox.issuer, aud: 'auth-cli', sub: 'alice' });
    expect(claims.exp as number).toBeGreaterThan(claimsOf(first.id_token as string).exp as number);
    expect(stored().id_token_expires_at).toBe(claims.exp);
    // The access token was not due: plain `auth token` makes no request.
    const plain = await runCli(['token'], { home });
    expect(plain.code).toBe(0);
    expect(sandbox.grants('refresh_token') - grants).toBe(1);
  });
});
