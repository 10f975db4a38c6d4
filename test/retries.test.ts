import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitForStderr } from './support/cli.js';
import { type FakeAs } from './support/fake-as.js';
import { fakeSessions, type Session } from './support/security.js';

// docs/design.md §5 (src/flows/retry.ts): bounded retries with backoff where a request
// can safely be sent again — GETs (discovery, JWKS, user info) and the
// client_credentials grant after 502/503/504 or a transient network error — and
// for every other POST only when the connection was refused (the request provably
// never left, docs/security.md R59). A sent code or refresh token is never sent twice
// (R32, R59). The reset-after-reading-the-refresh case is
// test/security-token.test.ts "R59: a refresh whose connection is reset is not
// retried…"; it is not repeated here.
//
// Timing checks are lower bounds only (a loaded machine can only make gaps longer),
// except the Retry-After cap, whose upper bound is 2.5 × the cap.

const setup = fakeSessions();

const DISCOVERY = '/.well-known/openid-configuration';
/** Refreshes use the discovery metadata cached at login (flows/discovery-cache.ts); dropping it makes them discover again. */
const dropDiscoveryCache = (s: Session) => rmSync(join(s.home, 'cache', 'discovery'), { recursive: true, force: true });
/** The debug lines of retries actually made (not the "not retrying …" notes). */
const retryLines = (stderr: string, method: string) => stderr.split('\n').filter((l) => l.includes(`retrying ${method} `) && !l.includes('not retrying'));
const gaps = (fake: FakeAs, path: string) => {
  const t = fake.requestsTo(path).map((r) => r.t);
  return t.slice(1).map((x, i) => x - t[i]!);
};
const noSecrets = (fake: FakeAs, text: string) => {
  for (const marker of [...fake.issued.codes, ...fake.issued.accessTokens, ...fake.issued.refreshTokens, ...fake.issued.idTokens]) {
    expect(text).not.toContain(marker);
  }
  expect(text).not.toMatch(/CODE_|AT_|RT_|IDT_/);
};

/** A loopback port with no listener (connections are refused). */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('GET requests (discovery) are retried after 502/503/504 and network errors', () => {
  it.concurrent('discovery answering 503 twice, then the document → login succeeds after exactly 3 discovery requests, backing off 0.5 s then 1 s', async () => {
    const { fake, s } = await setup();
    fake.discoveryScript.push({ status: 503 }, { status: 503, body: 'busy' });
    const res = await s.login(fake, ['--debug']);
    expect(res.code, res.stderr).toBe(0);
    expect(fake.requestsTo(DISCOVERY)).toHaveLength(3);
    expect(fake.requestsTo('/token')).toHaveLength(1);
    const [first, second] = gaps(fake, DISCOVERY) as [number, number];
    expect(first).toBeGreaterThanOrEqual(450);
    expect(second).toBeGreaterThanOrEqual(950);
    const lines = retryLines(res.stderr, 'GET');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`retrying GET ${fake.base}${DISCOVERY} after HTTP 503 in 500 ms (retry 1 of 2)`);
    expect(lines[1]).toContain('after HTTP 503 in 1000 ms (retry 2 of 2)');
    noSecrets(fake, res.stderr);
  });

  it.concurrent('a refresh that has to discover again (no cached metadata) rides out two 502/504 answers: one refresh request, new tokens stored', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored()!;
    dropDiscoveryCache(s);
    const discoveries = fake.requestsTo(DISCOVERY).length;
    fake.discoveryScript.push({ status: 502 }, { status: 504 });
    const res = await s.run(['refresh', '--force']);
    expect(res.code, res.stderr).toBe(0);
    expect(fake.requestsTo(DISCOVERY).length - discoveries).toBe(3);
    expect(fake.requestsTo('/token')).toHaveLength(2); // the code exchange and ONE refresh
    expect(fake.requestsTo('/token')[1]!.form.get('grant_type')).toBe('refresh_token');
    expect(s.stored()!.refresh_token).not.toBe(before.refresh_token);
  });

  it.concurrent('discovery answering 503 forever → exit 1 after exactly 3 attempts, naming discovery and the status; nothing stored', async () => {
    const { fake, s } = await setup();
    fake.discoveryScript.push({ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }, { status: 503 });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(fake.requestsTo(DISCOVERY)).toHaveLength(3);
    expect(fake.requestsTo('/authorize')).toHaveLength(0);
    expect(fake.requestsTo('/token')).toHaveLength(0);
    expect(res.stderr).toContain(`Discovery at ${fake.issuer} failed`);
    expect(res.stderr).toMatch(/HTTP 503/);
    expect(res.stderr).not.toMatch(/at Object\.|at async|node_modules/);
    expect(s.stored()).toBeUndefined();
  });

  it.concurrent('a 500 is not retried (a fault, not unavailability): exactly one discovery request', async () => {
    const { fake, s } = await setup();
    fake.discoveryScript.push({ status: 500 });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(fake.requestsTo(DISCOVERY)).toHaveLength(1);
    expect(res.stderr).toMatch(/HTTP 500/);
  });

  it.concurrent('a discovery connection reset once is retried: login succeeds after 2 discovery requests', async () => {
    const { fake, s } = await setup();
    fake.discoveryScript.push({ reset: true });
    const res = await s.login(fake, ['--debug']);
    expect(res.code, res.stderr).toBe(0);
    expect(fake.requestsTo(DISCOVERY)).toHaveLength(2);
    expect(retryLines(res.stderr, 'GET')[0]).toMatch(/after (ECONNRESET|UND_ERR_SOCKET) in 500 ms \(retry 1 of 2\)/);
  });

  it.concurrent('Retry-After: 2 is honoured instead of the 0.5 s backoff', async () => {
    const { fake, s } = await setup();
    fake.discoveryScript.push({ status: 503, headers: { 'Retry-After': '2' } });
    const res = await s.login(fake, ['--debug']);
    expect(res.code, res.stderr).toBe(0);
    expect(fake.requestsTo(DISCOVERY)).toHaveLength(2);
    expect(gaps(fake, DISCOVERY)[0]).toBeGreaterThanOrEqual(1950);
    expect(retryLines(res.stderr, 'GET')[0]).toContain('after HTTP 503 in 2000 ms');
  });

  it.concurrent('Retry-After: 3600 is capped at 5 s', async () => {
    const { fake, s } = await setup();
    fake.discoveryScript.push({ status: 503, headers: { 'Retry-After': '3600' } });
    const res = await s.login(fake, ['--debug']);
    expect(res.code, res.stderr).toBe(0);
    expect(retryLines(res.stderr, 'GET')[0]).toContain('after HTTP 503 in 5000 ms');
    const [gap] = gaps(fake, DISCOVERY) as [number];
    expect(gap).toBeGreaterThanOrEqual(4950);
    expect(gap).toBeLessThan(12_500);
  });

  it.concurrent('Ctrl-C during a backoff ends the wait: exit 130, no further discovery request', async () => {
    const { fake, s } = await setup();
    fake.discoveryScript.push({ status: 503, headers: { 'Retry-After': '5' } });
    const child = s.spawnLogin(fake, ['--debug']);
    await waitForStderr(child, /retrying GET .* in 5000 ms/);
    child.kill('SIGINT');
    const res = await child.result;
    expect(res.code, res.stderr).toBe(130);
    expect(fake.requestsTo(DISCOVERY)).toHaveLength(1);
    expect(s.stored()).toBeUndefined();
  });
});

describe('token requests that consume a grant are never sent twice (R32, R59)', () => {
  it.concurrent('R59: a refresh answered 503 → exactly ONE refresh request, exit 1, stored credential unchanged', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored();
    fake.tokenScript.push({ status: 503, headers: { 'Retry-After': '1' } }, { status: 503 }, { status: 503 });
    const res = await s.run(['refresh', '--force', '--debug']);
    expect(res.code).toBe(1);
    const tokens = fake.requestsTo('/token');
    expect(tokens).toHaveLength(2); // the code exchange at login and one refresh
    expect(tokens[1]!.form.get('grant_type')).toBe('refresh_token');
    expect(s.stored()).toEqual(before);
    expect(retryLines(res.stderr, 'POST')).toEqual([]);
    expect(res.stderr).toContain(`not retrying POST ${fake.base}/token after HTTP 503 here`);
    expect(res.stderr).toMatch(/Refreshing the access token failed/);
    noSecrets(fake, res.stderr);
    expect(res.stderr).not.toContain(before!.refresh_token as string);
  });

  it.concurrent('R59: `auth token` inside --min-ttl with the refresh answered 503 → ONE refresh request; the still-valid token with a warning, exit 0; stored credential unchanged', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored();
    fake.tokenScript.push({ status: 503 }, { status: 503 });
    const res = await s.run(['token', '--min-ttl', '99999999']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${before!.access_token}\n`);
    expect(res.stderr).toMatch(/Could not refresh the token of profile \S+ \(Refreshing the access token failed: .*HTTP 503.*\); using the current one/);
    expect(fake.requestsTo('/token').filter((r) => r.form.get('grant_type') === 'refresh_token')).toHaveLength(1);
    expect(s.stored()).toEqual(before);
    noSecrets(fake, res.stderr);
  });

  it.concurrent('R32: a code exchange answered 502 → exactly one token request, exit 1, nothing stored', async () => {
    const { fake, s } = await setup();
    fake.tokenScript.push({ status: 502 }, { status: 502 });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(fake.requestsTo('/token')).toHaveLength(1);
    expect(fake.requestsTo('/token')[0]!.form.get('grant_type')).toBe('authorization_code');
    expect(s.stored()).toBeUndefined();
    noSecrets(fake, res.stderr);
  });

  it.concurrent('R59: a refresh whose token endpoint refuses the connection (provably unsent) is tried 3 times, then exit 1 with the credential unchanged', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored();
    const tokensAtLogin = fake.requestsTo('/token').length;
    // Discover again so the refresh uses a token endpoint on a port nobody listens on.
    dropDiscoveryCache(s);
    const port = await refusedPort();
    fake.metadata.token_endpoint = `http://127.0.0.1:${port}/token`;
    const res = await s.run(['refresh', '--force', '--debug']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/ECONNREFUSED/);
    const lines = retryLines(res.stderr, 'POST');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`retrying POST http://127.0.0.1:${port}/token after ECONNREFUSED in 500 ms (retry 1 of 2)`);
    expect(lines[1]).toContain('after ECONNREFUSED in 1000 ms (retry 2 of 2)');
    // Three attempts, as logged by the fetch itself (no request reached the fake's own token endpoint).
    expect(res.stderr.split('\n').filter((l) => l.includes(`✗ POST http://127.0.0.1:${port}/token`))).toHaveLength(3);
    expect(fake.requestsTo('/token')).toHaveLength(tokensAtLogin);
    expect(s.stored()).toEqual(before);
    noSecrets(fake, res.stderr);
  });
});

describe('client_credentials consumes nothing: retried like a GET', () => {
  const ccToken = () => ({ body: { access_token: `AT_${crypto.randomUUID()}`, token_type: 'Bearer', expires_in: 3600 } });
  const ccLogin = (fake: FakeAs, s: Session, extra: string[] = []) =>
    s.run(['login', '--client-credentials', '--issuer', fake.issuer, '--client-id', fake.clientId, '--client-secret-env', 'SVC_SECRET', ...extra], {
      env: { SVC_SECRET: 'svc-secret-0123456789' },
    });

  it.concurrent('token endpoint 503 then 200 → login succeeds with exactly 2 token requests', async () => {
    const { fake, s } = await setup();
    fake.tokenScript.push({ status: 503 }, () => ccToken());
    const res = await ccLogin(fake, s, ['--debug']);
    expect(res.code, res.stderr).toBe(0);
    const tokens = fake.requestsTo('/token');
    expect(tokens).toHaveLength(2);
    for (const t of tokens) expect(t.form.get('grant_type')).toBe('client_credentials');
    expect(gaps(fake, '/token')[0]).toBeGreaterThanOrEqual(450);
    expect(s.stored()).toMatchObject({ kind: 'client_credentials', access_token: expect.stringMatching(/^AT_/) });
    expect(retryLines(res.stderr, 'POST')).toHaveLength(1);
    expect(res.stderr).not.toContain('svc-secret-0123456789');
    noSecrets(fake, res.stderr);
  });

  it.concurrent('token endpoint 503 three times → exit 1 after exactly 3 token requests', async () => {
    const { fake, s } = await setup();
    fake.tokenScript.push({ status: 503 }, { status: 503 }, { status: 503 }, () => ccToken());
    const res = await ccLogin(fake, s);
    expect(res.code).toBe(1);
    expect(fake.requestsTo('/token')).toHaveLength(3);
    expect(s.stored()).toBeUndefined();
  });
});
