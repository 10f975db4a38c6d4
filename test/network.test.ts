import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, runCli } from './support/cli.js';
import { requireSystem } from './support/system.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// docs/design.md §3 "real networks": a provider behind TLS signed by a private CA
// (trusted only through NODE_EXTRA_CA_CERTS) and a real forward proxy that
// records every request it relays.
const openssl = requireSystem('openssl', spawnSync('sh', ['-c', 'command -v openssl']).status === 0, 'the openssl CLI is needed to make a test CA');

/** A CA and a 127.0.0.1 server certificate it signed, as PEM files in `dir`. */
function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=auth test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  return { ca: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.pem'), 'utf8') };
}

/** A forward proxy: CONNECT tunnels (https) and absolute-URI requests (http), each recorded. */
async function startProxy(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url!);
    const upstream = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const upstream = net.connect(Number(port), host!, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const requests = (sandbox: Sandbox, path: string) => sandbox.events.filter((e: { type: string; path?: string }) => e.type === 'http.request' && e.path === path).length;
const DISCOVERY = '/.well-known/openid-configuration';

describe.skipIf(openssl.skip)('a provider over https with a private CA (NODE_EXTRA_CA_CERTS)', () => {
  let sandbox: Sandbox;
  let ca: string;
  const { home, cleanup } = makeHome('auth-net-');
  const certs = makeHome('auth-certs-');

  beforeAll(async () => {
    openssl.assertAvailable();
    const made = makeCertificates(certs.home);
    ca = made.ca;
    sandbox = await startSandbox({ accessTokenTTL: 3600, https: { key: made.key, cert: made.cert } });
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
    certs.cleanup();
  });

  it('without the CA the certificate is refused: exit 1, nothing stored (R03)', async () => {
    const res = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home: certs.home });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/Discovery at https:\/\/127\.0\.0\.1:\d+ failed/);
    expect(res.stdout).toBe('');
    expect(readdirSync(certs.home)).not.toContain('credentials');
  });

  it('with NODE_EXTRA_CA_CERTS naming the CA, login and token work over https', async () => {
    const env = { NODE_EXTRA_CA_CERTS: ca };
    const res = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home, env });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain(`Logged in to ${sandbox.issuer} as alice@example.com`);
    const token = await runCli(['token'], { home, env });
    expect(token.code).toBe(0);
    expect(token.stdout).toMatch(/^\S+\n$/);
  });

  it('NODE_TLS_REJECT_UNAUTHORIZED=0 is refused even when a valid token is stored (R03)', async () => {
    const res = await runCli(['token'], { home, env: { NODE_EXTRA_CA_CERTS: ca, NODE_TLS_REJECT_UNAUTHORIZED: '0' } });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('NODE_TLS_REJECT_UNAUTHORIZED=0 turns off TLS certificate checks');
  });

  it('through HTTPS_PROXY every provider request is tunnelled via the proxy; NO_PROXY bypasses it', async () => {
    const proxy = await startProxy();
    const { home: proxied, cleanup: done } = makeHome('auth-proxy-');
    try {
      const host = new URL(sandbox.issuer).host;
      const env = { NODE_EXTRA_CA_CERTS: ca, HTTPS_PROXY: proxy.url };
      const res = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home: proxied, env });
      expect(res.code, res.stderr).toBe(0);
      // Discovery, token exchange and JWKS from the CLI: all through CONNECT tunnels to the provider.
      expect(proxy.seen.length).toBeGreaterThan(0);
      expect(new Set(proxy.seen)).toEqual(new Set([`CONNECT ${host}`]));

      const before = proxy.seen.length;
      const refresh = await runCli(['refresh', '--force'], { home: proxied, env });
      expect(refresh.code, refresh.stderr).toBe(0);
      expect(proxy.seen.length).toBeGreaterThan(before);

      const bypassed = proxy.seen.length;
      const again = await runCli(['refresh', '--force'], { home: proxied, env: { ...env, NO_PROXY: '127.0.0.1' } });
      expect(again.code, again.stderr).toBe(0);
      expect(proxy.seen.length).toBe(bypassed);
    } finally {
      await proxy.close();
      done();
    }
  });
});

describe('plain-http provider through HTTP_PROXY, and the discovery cache (R07)', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-net-http-');
  const credFile = join(home, 'credentials', 'default.json');
  const expire = () => {
    const cred = JSON.parse(readFileSync(credFile, 'utf8'));
    writeFileSync(credFile, JSON.stringify({ ...cred, expires_at: Math.floor(Date.now() / 1000) - 5 }), { mode: 0o600 });
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  it('HTTP_PROXY carries the requests to an http provider', async () => {
    const proxy = await startProxy();
    try {
      const res = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home, env: { HTTP_PROXY: proxy.url } });
      expect(res.code, res.stderr).toBe(0);
      // undici tunnels plain http through CONNECT too; either way every request went via the proxy.
      const host = new URL(sandbox.issuer).host;
      expect(proxy.seen.length).toBeGreaterThan(0);
      for (const line of proxy.seen) expect([`CONNECT ${host}`, `GET ${sandbox.issuer}${DISCOVERY}`, `POST ${sandbox.issuer}/token`, `GET ${sandbox.issuer}/jwks`]).toContain(line);
    } finally {
      await proxy.close();
    }
  });

  it('a refresh uses the cached discovery metadata: no discovery request, one refresh grant', async () => {
    expire();
    const discoveries = requests(sandbox, DISCOVERY);
    const grants = sandbox.grants('refresh_token');
    const res = await runCli(['token'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(sandbox.grants('refresh_token') - grants).toBe(1);
    expect(requests(sandbox, DISCOVERY)).toBe(discoveries);
  });

  it('cached metadata naming another issuer is discarded and discovery runs again (R07)', async () => {
    const dir = join(home, 'cache', 'discovery');
    const [file] = readdirSync(dir);
    const path = join(dir, file!);
    const entry = JSON.parse(readFileSync(path, 'utf8'));
    expect(entry.issuer).toBe(sandbox.issuer);
    entry.metadata.issuer = 'https://attacker.example';
    entry.metadata.token_endpoint = 'https://attacker.example/token';
    writeFileSync(path, JSON.stringify(entry), { mode: 0o600 });
    expire();
    const discoveries = requests(sandbox, DISCOVERY);
    const res = await runCli(['token'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(requests(sandbox, DISCOVERY)).toBe(discoveries + 1);
    expect(JSON.parse(readFileSync(path, 'utf8')).metadata.issuer).toBe(sandbox.issuer);
  });

  it('stale cached metadata (older than a day) is fetched again', async () => {
    const dir = join(home, 'cache', 'discovery');
    const path = join(dir, readdirSync(dir)[0]!);
    const entry = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...entry, fetchedAt: Date.now() - 25 * 3600_000 }), { mode: 0o600 });
    expire();
    const discoveries = requests(sandbox, DISCOVERY);
    const res = await runCli(['token'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(requests(sandbox, DISCOVERY)).toBe(discoveries + 1);
  });
});
