import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorBlock, errorLine } from './support/cli.js';
import { startFakeAs, type FakeAs } from './support/fake-as.js';
import { fakeSessionsEach, expectNothingStored, session } from './support/security.js';

// docs/security.md §1 (R01–R05): configuration, discovery and transport, driven
// against the scriptable fake AS for what a real provider will not do.

const { setup, cleanups } = fakeSessionsEach();
const paths = (fake: FakeAs) => fake.requests.map((r) => r.path);

/** A plain HTTP server that records every request it gets (the "attacker" endpoint). */
async function recorder(): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const out = { url: `http://127.0.0.1:${port}`, hits, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
  cleanups.push(() => out.close());
  return out;
}

describe('R01 issuer pinning', () => {
  it('R01: discovery answering with the issuer plus a trailing slash is refused before any authorization or token request', async () => {
    const { fake, s } = await setup();
    fake.metadata.issuer = `${fake.issuer}/`;
    const res = await s.login(fake);
    expect(res.code).not.toBe(0);
    expect(errorLine(res.stderr)).toMatch(/different issuer/);
    expect(paths(fake)).toEqual(['/.well-known/openid-configuration']);
    expect(s.browserEntries(), 'the browser hook must not run').toEqual([]);
    expectNothingStored(s);
  });

  it('R01: a configured issuer with a trailing slash does not match metadata without one', async () => {
    const { fake, s } = await setup();
    const res = await s.run(['login', '--issuer', `${fake.issuer}/`, '--client-id', fake.clientId]);
    expect(res.code).not.toBe(0);
    expect(errorLine(res.stderr)).toMatch(/different issuer/);
    expect(paths(fake)).toEqual(['/.well-known/openid-configuration']);
    expectNothingStored(s);
  });

  it('R01: discovery naming another host as issuer is refused', async () => {
    const { fake, s } = await setup();
    fake.metadata.issuer = `http://127.0.0.2:${fake.port}`;
    const res = await s.login(fake);
    expect(res.code).not.toBe(0);
    expect(errorLine(res.stderr)).toMatch(/different issuer/);
    expect(paths(fake)).toEqual(['/.well-known/openid-configuration']);
    expect(s.browserEntries()).toEqual([]);
    expectNothingStored(s);
  });
});

describe('R02 https everywhere except loopback', () => {
  it('R02: a plain-http issuer on a non-loopback host is refused before any request', async () => {
    const { s } = await setup();
    const res = await s.run(['login', '--issuer', 'http://192.0.2.10', '--client-id', 'x']);
    expect(res.code).toBe(2);
    expect(errorLine(res.stderr)).toMatch(/insecure issuer http:\/\/192\.0\.2\.10/i);
    // 192.0.2.10 (TEST-NET-1) is unroutable: a request would have hung until runCli's kill (exit code null).
    expect(s.browserEntries()).toEqual([]);
    expectNothingStored(s);
  });

  it('R02: plain-http loopback issuers are accepted with no extra switch (docs/design.md §3)', async () => {
    const { fake, s } = await setup();
    const res = await s.login(fake);
    expect(res.code).toBe(0);
    expect(s.stored()?.access_token).toMatch(/^AT_/);
  });

  for (const field of ['token_endpoint', 'authorization_endpoint', 'jwks_uri', 'revocation_endpoint', 'userinfo_endpoint', 'device_authorization_endpoint']) {
    it(`R02: metadata with a non-https ${field} is refused before any further request`, async () => {
      const { fake, s } = await setup();
      fake.metadata[field] = `http://192.0.2.10/${field}`;
      const res = await s.login(fake);
      expect(res.code).not.toBe(0);
      expect(errorLine(res.stderr)).toContain(`its ${field} is not an https URL`);
      expect(paths(fake)).toEqual(['/.well-known/openid-configuration']);
      expect(s.browserEntries()).toEqual([]);
      expectNothingStored(s);
    });
  }
});

describe('R03 TLS validation is never disabled', () => {
  it('R03: NODE_TLS_REJECT_UNAUTHORIZED=0 makes every command refuse to run, with an explanation', async () => {
    const { fake, s } = await setup();
    expect((await s.login(fake)).code).toBe(0);
    const requestsBefore = fake.requests.length;
    for (const args of [['token'], ['login', '--issuer', fake.issuer, '--client-id', fake.clientId], ['refresh', '--force']]) {
      const res = await s.run(args, { env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' } });
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stdout).toBe('');
      expect(errorLine(res.stderr)).toContain('NODE_TLS_REJECT_UNAUTHORIZED=0 turns off TLS certificate checks');
      expect(errorBlock(res.stderr)).toContain('NODE_EXTRA_CA_CERTS');
    }
    expect(fake.requests.length).toBe(requestsBefore);
  });

  it('R03: a provider with an untrusted self-signed certificate fails with a TLS error', async (ctx) => {
    let cert: string;
    let key: string;
    const dir = mkdtempSync(join(tmpdir(), 'auth-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      key = readFileSync(join(dir, 'key.pem'), 'utf8');
    } catch {
      if (process.env.AUTH_REQUIRE_SYSTEM === '1') throw new Error('openssl is required for the R03 TLS test (AUTH_REQUIRE_SYSTEM=1)');
      ctx.skip('openssl is not installed; cannot mint a self-signed certificate');
      return;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const fake = await startFakeAs({ tls: { cert, key } });
    const s = session();
    cleanups.push(() => fake.close(), () => s.cleanup());
    expect(fake.issuer).toMatch(/^https:/);
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/TLS certificate check failed/);
    expect(fake.requestsTo('/.well-known/openid-configuration')).toHaveLength(0);
    expectNothingStored(s);
  });
});

describe('R04 back-channel requests never follow redirects', () => {
  it('R04: a token endpoint answering 307 during the code exchange sends nothing to the target', async () => {
    const { fake, s } = await setup();
    const thief = await recorder();
    fake.tokenScript.push({ status: 307, headers: { Location: `${thief.url}/steal` } });
    const res = await s.login(fake);
    expect(res.code).not.toBe(0);
    expect(thief.hits).toEqual([]);
    expect(fake.requestsTo('/token')).toHaveLength(1);
    expectNothingStored(s);
  });

  it('R04: a 307 on refresh sends the refresh token nowhere and leaves the stored credential untouched', async () => {
    const { fake, s } = await setup();
    const thief = await recorder();
    expect((await s.login(fake)).code).toBe(0);
    const before = s.stored();
    fake.tokenScript.push({ status: 307, headers: { Location: `${thief.url}/steal` } });
    const res = await s.run(['refresh', '--force']);
    expect(res.code).not.toBe(0);
    expect(thief.hits).toEqual([]);
    expect(s.stored()).toEqual(before);
  });

  it('R04: a discovery document behind a redirect to another origin is not followed (same-origin: test/real-servers.test.ts)', async () => {
    const thief = await recorder();
    const s = session();
    cleanups.push(() => s.cleanup());
    const server = createServer((_req, res) => res.writeHead(302, { Location: `${thief.url}/.well-known/openid-configuration` }).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const res = await s.run(['login', '--issuer', issuer, '--client-id', 'x']);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/redirected from .* to another origin/);
    expect(thief.hits).toEqual([]);
    expectNothingStored(s);
  });
});

describe('R05 no configuration from the working directory', () => {
  it('R05: config-like files in the current directory naming another provider are never read', async () => {
    const { fake, s } = await setup();
    const attacker = await startFakeAs({ clientId: 'evil' });
    cleanups.push(() => attacker.close());
    const cwd = mkdtempSync(join(tmpdir(), 'auth-cwd-'));
    cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
    const yaml = `active: default\nprofiles:\n  default:\n    issuer: ${attacker.issuer}\n    clientId: evil\n`;
    const json = JSON.stringify({ issuer: attacker.issuer, clientId: 'evil', client_id: 'evil' });
    for (const [name, text] of [['config.yaml', yaml], ['auth.json', json], ['.authrc', json], ['.auth.yaml', yaml], ['auth.yaml', yaml], ['.env', `AUTH_ISSUER=${attacker.issuer}\nAUTH_CLIENT_ID=evil\n`]] as const) {
      writeFileSync(join(cwd, name), text);
    }
    for (const dir of ['.authcli', 'authcli', '.config/authcli']) {
      mkdirSync(join(cwd, dir), { recursive: true });
      writeFileSync(join(cwd, dir, 'config.yaml'), yaml);
    }
    // No profile configured and no flags: the CWD files must not supply one.
    const bare = await s.run(['login'], { cwd });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/--issuer/);
    // A real profile: login, token and refresh all go to the configured provider only.
    expect((await s.login(fake, [], { cwd })).code).toBe(0);
    expect((await s.run(['token'], { cwd })).code).toBe(0);
    expect((await s.run(['refresh', '--force'], { cwd })).code).toBe(0);
    expect(attacker.requests).toEqual([]);
    expect(fake.requestsTo('/token').length).toBe(2);
  });
});

describe('R06 profiles are isolated', () => {
  it('R06: refreshing profile A talks only to A\'s provider, never to B\'s', async () => {
    const { fake: a, s } = await setup();
    const b = await startFakeAs({ clientId: 'other-cli' });
    cleanups.push(() => b.close());
    a.expiresIn = 0; // A's token is due at once
    expect((await s.run(['login', '-p', 'a', '--issuer', a.issuer, '--client-id', a.clientId])).code).toBe(0);
    expect((await s.run(['login', '-p', 'b', '--issuer', b.issuer, '--client-id', b.clientId])).code).toBe(0);
    const bRequests = b.requests.length;
    const res = await s.run(['token', '-p', 'a']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${a.issued.accessTokens[1]}\n`);
    expect(a.requestsTo('/token').map((r) => r.form.get('grant_type'))).toEqual(['authorization_code', 'refresh_token']);
    expect(b.requests.length).toBe(bRequests);
    expect(s.stored('b')?.access_token).toBe(b.issued.accessTokens[0]);
  });
});
