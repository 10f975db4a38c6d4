import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { errorBlock, errorLine } from './support/cli.js';
import { startFakeAs, type FakeAs } from './support/fake-as.js';
import { fakeSessionsEach, awaitRedirect, expectNothingStored, rawGet, targetOf } from './support/security.js';

// Behaviour met against real production servers, reproduced on the fake AS:
// discovery behind a redirect (docs/security.md R01, R04), fixed ports and the hints a
// login timeout gives, and library errors told apart by structure (R29, R38).

const { setup, cleanups } = fakeSessionsEach();
const paths = (fake: FakeAs) => fake.requests.map((r) => r.path);

const WELL_KNOWN = '/o/.well-known/openid-configuration';

/** The fake AS under the issuer <base>/o, its discovery document only at the well-known URL plus a trailing slash. */
function underPath(fake: FakeAs): void {
  fake.issuer = `${fake.base}/o`;
  fake.routes[`${WELL_KNOWN}/`] = () => ({ body: fake.discoveryDocument() });
}

describe('discovery behind a redirect', () => {
  const redirects: Array<[string, number, (fake: FakeAs) => string]> = [
    ['an absolute 301', 301, (fake) => `${fake.issuer}/.well-known/openid-configuration/`],
    ['a relative 308', 308, () => 'openid-configuration/'],
  ];
  for (const [what, status, location] of redirects) {
    it(`R01: ${what} to the same origin is followed; the document's issuer is checked and login succeeds`, async () => {
      const { fake, s } = await setup();
      underPath(fake);
      fake.routes[WELL_KNOWN] = () => ({ status, headers: { Location: location(fake) } });
      const res = await s.login(fake);
      expect(res.code, res.stderr).toBe(0);
      expect(paths(fake).slice(0, 2)).toEqual([WELL_KNOWN, `${WELL_KNOWN}/`]);
      expect(fake.requestsTo('/token')).toHaveLength(1);
      expect(s.stored()?.issuer).toBe(fake.issuer);
      expect(res.stderr).toContain(`Logged in to ${fake.issuer} as`);
    });
  }

  it('R01: after a followed redirect, a document naming the issuer with a trailing slash is still refused', async () => {
    const { fake, s } = await setup();
    underPath(fake);
    fake.metadata.issuer = `${fake.issuer}/`;
    fake.routes[WELL_KNOWN] = () => ({ status: 301, headers: { Location: `${fake.issuer}/.well-known/openid-configuration/` } });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/returned metadata for a different issuer/);
    expect(paths(fake)).toEqual([WELL_KNOWN, `${WELL_KNOWN}/`]);
    expect(s.browserEntries()).toEqual([]);
    expectNothingStored(s);
  });

  it('R01 R04: a 302 to another origin (another port) is refused, naming both origins; the other server receives nothing', async () => {
    const { fake, s } = await setup();
    const other = await startFakeAs();
    cleanups.push(() => other.close());
    underPath(fake);
    fake.routes[WELL_KNOWN] = () => ({ status: 302, headers: { Location: `${other.base}/.well-known/openid-configuration` } });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    const line = errorLine(res.stderr);
    expect(line).toContain(fake.base);
    expect(line).toContain(other.base);
    expect(line).toMatch(/another origin/);
    expect(other.requests).toEqual([]);
    expect(paths(fake)).toEqual([WELL_KNOWN]);
    expect(s.browserEntries()).toEqual([]);
    expectNothingStored(s);
  });

  it('a redirect loop ends with a clear error, each URL requested once', async () => {
    const { fake, s } = await setup();
    underPath(fake);
    fake.routes[WELL_KNOWN] = () => ({ status: 302, headers: { Location: `${WELL_KNOWN}/` } });
    fake.routes[`${WELL_KNOWN}/`] = () => ({ status: 302, headers: { Location: WELL_KNOWN } });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/Discovery at .* redirected in a loop/);
    expect(paths(fake)).toEqual([WELL_KNOWN, `${WELL_KNOWN}/`]);
    expectNothingStored(s);
  });

  it('more than 3 redirects end with a clear error; the fourth target is never requested', async () => {
    const { fake, s } = await setup();
    underPath(fake);
    const chain = [WELL_KNOWN, '/r1', '/r2', '/r3', '/r4'];
    chain.slice(0, -1).forEach((path, i) => {
      fake.routes[path] = () => ({ status: 307, headers: { Location: chain[i + 1]! } });
    });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/redirected more than 3 times/);
    expect(paths(fake)).toEqual(chain.slice(0, -1));
    expectNothingStored(s);
  });

  it('R04: a same-origin 307 at the token endpoint is still not followed', async () => {
    const { fake, s } = await setup();
    underPath(fake);
    fake.routes[WELL_KNOWN] = () => ({ status: 301, headers: { Location: `${fake.issuer}/.well-known/openid-configuration/` } });
    fake.routes['/token2'] = () => ({ status: 500 });
    fake.tokenScript.push({ status: 307, headers: { Location: `${fake.base}/token2` } });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(fake.requestsTo('/token')).toHaveLength(1);
    expect(fake.requestsTo('/token2')).toEqual([]);
    expectNothingStored(s);
  });
});

/** Resolves to a reason when 127.0.0.1:80 cannot be bound here (taken, or not allowed), else undefined. */
function port80Unavailable(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => resolve(`cannot listen on 127.0.0.1:80 here (${e.code})`));
    probe.listen({ host: '127.0.0.1', port: 80, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

describe('fixed ports', () => {
  it('--port 80 sends redirect_uri=http://127.0.0.1/callback (no :80) and accepts a callback whose Host has no port', async (ctx) => {
    const unavailable = await port80Unavailable();
    if (unavailable) {
      process.stderr.write(`[skip] --port 80 test skipped: ${unavailable}.\n`);
      ctx.skip(unavailable);
    }
    const { fake, s } = await setup('authorize');
    const child = s.spawnLogin(fake, ['--port', '80']);
    cleanups.push(() => { child.kill('SIGKILL'); });
    const callback = await awaitRedirect(fake);
    expect(fake.authorizations[0]!.redirectUri).toBe('http://127.0.0.1/callback');
    expect(callback.port).toBe('');
    // A Host naming another port is refused (R24); the one a browser sends for http://127.0.0.1/ is accepted.
    expect((await rawGet(80, targetOf(callback), { host: '127.0.0.1:8080' })).status).toBe(400);
    const done = await rawGet(80, targetOf(callback), { host: '127.0.0.1' });
    expect(done.status).toBe(200);
    const res = await child.result;
    expect(res.code, res.stderr).toBe(0);
    expect(fake.requestsTo('/token')[0]!.form.get('redirect_uri')).toBe('http://127.0.0.1/callback');
  });
});

describe('login timeout hints', () => {
  /** A provider that refuses the redirect URI: it shows its own error page and never redirects back. */
  function refusesRedirectUri(fake: FakeAs): void {
    fake.routes['/authorize'] = () => ({ status: 400, body: '<h1>Invalid parameter: redirect_uri</h1>' });
  }

  it('the timeout names the redirect URI sent and how to fix it, and suggests --device when the provider has a device endpoint', async () => {
    const { fake, s } = await setup('follow');
    refusesRedirectUri(fake);
    const res = await s.login(fake, ['--timeout', '2'], { timeoutMs: 60_000 });
    expect(res.code).toBe(1);
    const sent = fake.requestsTo('/authorize')[0]!.query.get('redirect_uri')!;
    expect(sent).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(errorLine(res.stderr)).toContain('Timed out after 2 s');
    expect(errorLine(res.stderr)).toContain(`redirect URI sent: ${sent}`);
    const block = errorBlock(res.stderr);
    expect(block).toContain(`register exactly ${sent}`);
    expect(block).toMatch(/fixed --port matching the redirect URI registered/);
    expect(block).toContain('auth login --device');
    expect(fake.requestsTo('/token')).toEqual([]);
    expectNothingStored(s);
  });

  it('without a device_authorization_endpoint the timeout hint does not suggest --device', async () => {
    const { fake, s } = await setup('follow');
    refusesRedirectUri(fake);
    fake.metadata.device_authorization_endpoint = undefined;
    const res = await s.login(fake, ['--timeout', '2'], { timeoutMs: 60_000 });
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toContain('Timed out after 2 s');
    expect(errorBlock(res.stderr)).toContain('register exactly');
    expect(res.stderr).not.toContain('--device');
  });
});

describe('library errors classified by structure', () => {
  it('R38: an ID token whose iss has a trailing slash: the error is about the ID token\'s issuer, not a mix-up', async () => {
    const { fake, s } = await setup();
    fake.idToken = { claims: { iss: `${fake.issuer}/` } };
    const res = await s.login(fake);
    expect(res.code).not.toBe(0);
    const line = errorLine(res.stderr);
    expect(line).toMatch(/ID token's issuer/);
    expect(line).toContain(`${fake.issuer}/`);
    expect(line).not.toMatch(/nothing was exchanged/i);
    expect(line).not.toMatch(/identify .* as its sender/);
    // The code was exchanged (that is where the ID token came from), and nothing was stored.
    expect(fake.requestsTo('/token')).toHaveLength(1);
    expectNothingStored(s);
  });

  it('R29: a callback with a wrong iss parameter is the mix-up defence: nothing exchanged', async () => {
    const { fake, s } = await setup();
    fake.authorizeScript = ({ code, state }) => ({ code, state: state!, iss: `${fake.issuer}/` });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/did not identify http:\/\/127\.0\.0\.1:\d+ as its sender \(missing or wrong "iss"\).*nothing was exchanged/);
    expect(fake.requestsTo('/token')).toEqual([]);
    expectNothingStored(s);
  });

  it('R29: without RFC 9207 advertised, a callback without iss is accepted (control)', async () => {
    const { fake, s } = await setup();
    fake.metadata.authorization_response_iss_parameter_supported = undefined;
    fake.authorizeScript = ({ code, state }) => ({ code, state: state! });
    const res = await s.login(fake);
    expect(res.code, res.stderr).toBe(0);
  });
});
