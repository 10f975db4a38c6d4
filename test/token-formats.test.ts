import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, runCli } from './support/cli.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// docs/design.md §2 `auth token --format raw|json|header|env|exec-credential`, `--id-token`; docs/security.md §12.
describe('auth token output formats', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-formats-');
  const credFile = join(home, 'credentials', 'default.json');
  const stored = () => JSON.parse(readFileSync(credFile, 'utf8'));
  const expire = () => writeFileSync(credFile, JSON.stringify({ ...stored(), expires_at: Math.floor(Date.now() / 1000) - 5 }), { mode: 0o600 });

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  it('raw (the default): exactly the access token and a newline on stdout, nothing on stderr (R81)', async () => {
    for (const args of [['token'], ['token', '--format', 'raw']]) {
      const res = await runCli(args, { home });
      expect(res.code).toBe(0);
      expect(res.stdout).toBe(`${stored().access_token}\n`);
      expect(res.stderr).toBe('');
    }
  });

  it('header: `Authorization: Bearer <token>`, accepted as is by the provider (R88)', async () => {
    const res = await runCli(['token', '--format', 'header'], { home });
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`Authorization: Bearer ${stored().access_token}\n`);
    const [name, value] = res.stdout.trim().split(': ');
    const me = await fetch(`${sandbox.issuer}/me`, { headers: { [name!]: value! } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { sub: string }).sub).toBe('alice');
  });

  it('json: {access_token, token_type, expires_at (epoch seconds), scope} and nothing else', async () => {
    const res = await runCli(['token', '--format', 'json'], { home });
    expect(res.code).toBe(0);
    expect(res.stdout.endsWith('}\n')).toBe(true);
    const out = JSON.parse(res.stdout);
    expect(Object.keys(out)).toEqual(['access_token', 'token_type', 'expires_at', 'scope']);
    expect(out.access_token).toBe(stored().access_token);
    expect(out.token_type).toBe('Bearer');
    expect(Number.isInteger(out.expires_at)).toBe(true);
    expect(Math.abs(out.expires_at - (Date.now() / 1000 + 3600))).toBeLessThan(120);
    expect(out.scope.split(' ')).toEqual(expect.arrayContaining(['openid', 'offline_access']));
  });

  it('json after a refresh: same shape, the new token and its new expiry (R83)', async () => {
    const before = stored().access_token;
    expire();
    const res = await runCli(['token', '--format', 'json'], { home });
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(Object.keys(out)).toEqual(['access_token', 'token_type', 'expires_at', 'scope']);
    expect(out.access_token).not.toBe(before);
    expect(out.access_token).toBe(stored().access_token);
    expect(out.expires_at).toBeGreaterThan(Date.now() / 1000 + 3000);
  });

  it('--id-token prints the validated ID token from the sign-in (iss and aud of this provider and client)', async () => {
    const res = await runCli(['token', '--id-token'], { home });
    expect(res.code).toBe(0);
    const jwt = res.stdout.trim();
    expect(res.stdout).toBe(`${stored().id_token}\n`);
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims.iss).toBe(sandbox.issuer);
    expect(claims.aud).toBe('auth-cli');
  });

  it('env: `AUTH_TOKEN=<token>`, one line, for `export "$(auth token --format env)"` and dotenv files', async () => {
    const res = await runCli(['token', '--format', 'env'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`AUTH_TOKEN=${stored().access_token}\n`);
    // What a shell makes of it.
    const sh = spawnSync('sh', ['-c', `export "$(cat)"; printf %s "$AUTH_TOKEN"`], { input: res.stdout, encoding: 'utf8' });
    expect(sh.stdout).toBe(stored().access_token);
    const idt = await runCli(['token', '--format', 'env', '--id-token'], { home });
    expect(idt.stdout).toBe(`AUTH_TOKEN=${stored().id_token}\n`);
  });

  it('exec-credential: a Kubernetes ExecCredential (v1, or the version KUBERNETES_EXEC_INFO asks for) with the expiry as RFC 3339 UTC', async () => {
    const res = await runCli(['token', '--format', 'exec-credential'], { home });
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: stored().access_token, expirationTimestamp: new Date(stored().expires_at * 1000).toISOString().replace('.000Z', 'Z') },
    });
    expect(out.status.expirationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const execInfo = JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1beta1', spec: { interactive: false } });
    const beta = await runCli(['token', '--format', 'exec-credential'], { home, env: { KUBERNETES_EXEC_INFO: execInfo } });
    expect(JSON.parse(beta.stdout).apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    // --id-token (the Kubernetes OIDC authenticator): the ID token and its own expiry.
    const idt = JSON.parse((await runCli(['token', '--format', 'exec-credential', '--id-token'], { home })).stdout);
    const exp = JSON.parse(Buffer.from(String(stored().id_token).split('.')[1]!, 'base64url').toString()).exp as number;
    expect(idt.status).toEqual({ token: stored().id_token, expirationTimestamp: new Date(exp * 1000).toISOString().replace('.000Z', 'Z') });
  });

  it('--id-token without a stored ID token: exit 4, empty stdout, says why', async () => {
    const cred = stored();
    delete cred.id_token;
    writeFileSync(credFile, JSON.stringify(cred), { mode: 0o600 });
    const res = await runCli(['token', '--id-token'], { home });
    expect(res.code).toBe(4);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('holds no ID token');
  });

  it('an unknown format is a usage error (exit 2) naming the choices; stdout stays empty (R82)', async () => {
    const res = await runCli(['token', '--format', 'yaml'], { home });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/raw, json, header, env, exec-credential/);
  });

  it('not logged in: every format prints nothing on stdout and exits 4 (R82)', async () => {
    for (const format of ['raw', 'json', 'header', 'env', 'exec-credential']) {
      const res = await runCli(['token', '-p', 'nobody', '--format', format], { home });
      expect(res.code).toBe(4);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain('Not logged in (profile nobody)');
    }
  });

  it('--no-refresh with an expired token: exit 4 and no request to the provider', async () => {
    expire();
    const grants = sandbox.grants('refresh_token');
    const res = await runCli(['token', '--no-refresh', '--format', 'json'], { home });
    expect(res.code).toBe(4);
    expect(res.stdout).toBe('');
    expect(sandbox.grants('refresh_token')).toBe(grants);
  });
});
