import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, runCli, spawnCli, waitForStderr } from './support/cli.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// End-to-end: the built CLI against the real oidc-provider sandbox, the browser
// step done by the scripted browser following the provider's real pages.
describe('browser sign-in lifecycle', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome();
  const login = () => runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  it('logs in through the browser, prints who is signed in and stores the credential (R10, R12, R13, R42, R90)', async () => {
    const res = await login();
    expect(res.stderr).toContain('Open this URL in your browser to sign in:');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(new RegExp(`✓ Logged in to ${sandbox.issuer.replace(/[.:/]/g, '\\$&')} as alice@example.com \\(profile default\\)`));
    // The URL line is printed on its own, indented, as docs/design.md §2 shows.
    const url = new URL(res.stderr.split('\n').find((l) => l.startsWith('  http'))!.trim());
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('state')!.length).toBeGreaterThanOrEqual(43);
    expect(url.searchParams.get('nonce')!.length).toBeGreaterThanOrEqual(43);
    const redirect = new URL(url.searchParams.get('redirect_uri')!);
    expect(redirect.hostname).toBe('127.0.0.1');
    expect(redirect.pathname).toBe('/callback');
    expect(redirect.search).toBe('');
    // Config saved from the flags, credential stored in the file store.
    expect(readFileSync(join(home, 'config.yaml'), 'utf8')).toContain(`issuer: ${sandbox.issuer}`);
    const stored = JSON.parse(readFileSync(join(home, 'credentials', 'default.json'), 'utf8'));
    expect(stored.refresh_token).toBeTruthy();
    expect(stored.account.email).toBe('alice@example.com');
    // docs/security.md R78: no transaction secrets in the store.
    const text = readFileSync(join(home, 'credentials', 'default.json'), 'utf8');
    expect(text).not.toContain(url.searchParams.get('state')!);
    expect(text).not.toContain(url.searchParams.get('nonce')!);
  });

  it('stores files with private modes: dir 0700, file 0600 (R74)', () => {
    expect(statSync(join(home, 'credentials')).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, 'credentials', 'default.json')).mode & 0o777).toBe(0o600);
  });

  it('status shows the account and exits 0; --json has the documented shape', async () => {
    const text = await runCli(['status'], { home });
    expect(text.code).toBe(0);
    expect(text.stderr).toContain('alice@example.com');
    expect(text.stderr + text.stdout).not.toContain(JSON.parse(readFileSync(join(home, 'credentials', 'default.json'), 'utf8')).access_token);
    const json = await runCli(['status', '--json'], { home });
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(Object.keys(parsed.profiles[0]).sort()).toEqual(['account', 'active', 'expiresAt', 'issuer', 'loggedIn', 'mfa', 'name', 'refreshable', 'scopes', 'storage'].sort());
    expect(parsed.profiles[0]).toMatchObject({ name: 'default', active: true, issuer: sandbox.issuer, account: 'alice@example.com', refreshable: true, loggedIn: true, storage: 'file' });
    expect(parsed.profiles[0].scopes).toContain('openid');
  });

  it('token prints only the access token, which the provider accepts at userinfo (R81, R88)', async () => {
    const res = await runCli(['token'], { home });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^[^\s]+\n$/);
    const token = res.stdout.trim();
    const info = await sandbox.userinfo(token);
    expect(info.status).toBe(200);
    expect(info.body.sub).toBe('alice');
    const header = await runCli(['token', '--format', 'header'], { home });
    expect(header.stdout).toBe(`Authorization: Bearer ${token}\n`);
    const json = JSON.parse((await runCli(['token', '--format', 'json'], { home })).stdout);
    expect(json).toEqual({ access_token: token, token_type: 'Bearer', expires_at: expect.any(Number), scope: expect.stringContaining('openid') });
    const idt = await runCli(['token', '--id-token'], { home });
    expect(idt.stdout.split('.').length).toBe(3);
  });

  it('a token close to expiry is refreshed first; the rotated refresh token is stored (R36, R55, R83)', async () => {
    const file = join(home, 'credentials', 'default.json');
    const before = JSON.parse(readFileSync(file, 'utf8'));
    const refreshesBefore = sandbox.grants('refresh_token');
    // Make the stored access token expire in 10 s: inside the min-TTL, so a refresh is due.
    writeFileSync(file, JSON.stringify({ ...before, obtained_at: Math.floor(Date.now() / 1000) - 3590, expires_at: Math.floor(Date.now() / 1000) + 10 }));
    const res = await runCli(['token'], { home });
    expect(res.code).toBe(0);
    const after = JSON.parse(readFileSync(file, 'utf8'));
    expect(sandbox.grants('refresh_token')).toBe(refreshesBefore + 1);
    expect(res.stdout.trim()).toBe(after.access_token);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect((await sandbox.userinfo(after.access_token)).status).toBe(200);
    // --no-refresh never contacts the server.
    const after2 = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...after2, obtained_at: Math.floor(Date.now() / 1000) - 3590, expires_at: Math.floor(Date.now() / 1000) + 10 }));
    const quiet = await runCli(['token', '--no-refresh'], { home });
    expect(quiet.code).toBe(0);
    expect(quiet.stdout.trim()).toBe(after2.access_token);
    expect(sandbox.grants('refresh_token')).toBe(refreshesBefore + 1);
    writeFileSync(file, JSON.stringify(after2));
  });

  it('refresh --force refreshes; without --force a fresh token is left alone', async () => {
    const n = sandbox.grants('refresh_token');
    const idle = await runCli(['refresh'], { home });
    expect(idle.code).toBe(0);
    expect(sandbox.grants('refresh_token')).toBe(n);
    const forced = await runCli(['refresh', '--force'], { home });
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain('Refreshed');
    expect(sandbox.grants('refresh_token')).toBe(n + 1);
  });

  it('logout revokes at the server (introspection says inactive), then token exits 4 with empty stdout (R68, R72)', async () => {
    const stored = JSON.parse(readFileSync(join(home, 'credentials', 'default.json'), 'utf8'));
    expect((await sandbox.introspect(stored.refresh_token)).active).toBe(true);
    const res = await runCli(['logout'], { home });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('revoked at server');
    expect((await sandbox.introspect(stored.refresh_token)).active).toBe(false);
    expect((await sandbox.introspect(stored.access_token)).active).toBe(false);
    expect(existsSync(join(home, 'credentials', 'default.json'))).toBe(false);
    const token = await runCli(['token'], { home });
    expect(token.code).toBe(4);
    expect(token.stdout).toBe('');
    expect(token.stderr).toContain('auth login');
    const status = await runCli(['status'], { home });
    expect(status.code).toBe(4);
    // Idempotent.
    const again = await runCli(['logout'], { home });
    expect(again.code).toBe(0);
  });
});

describe('callback listener and failure paths', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('ignores a callback with the wrong state (400) and still completes the sign-in (R23, R27)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const delayed = { SANDBOX_BROWSER_DELAY_MS: '1500' };
      const child = spawnCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home, env: delayed });
      const [, line] = await waitForStderr(child, /\n {2}(http\S+)\n/);
      const redirect = new URL(new URL(line!).searchParams.get('redirect_uri')!);
      const forged = await fetch(`${redirect.origin}/callback?code=stolen&state=wrong`);
      expect(forged.status).toBe(400);
      expect(forged.headers.get('connection')).toBe('close');
      const body = await forged.text();
      expect(body).not.toContain('stolen');
      const missing = await fetch(`${redirect.origin}/callback?code=stolen`);
      expect(missing.status).toBe(400);
      const wrongPath = await fetch(`${redirect.origin}/other?code=x&state=y`);
      expect(wrongPath.status).toBe(404);
      const res = await child.result;
      expect(res.code).toBe(0);
      expect(res.stderr).toContain('✓ Logged in');
      expect(sandbox.grants('authorization_code')).toBeGreaterThanOrEqual(1);
    } finally {
      cleanup();
    }
  });

  it('error=access_denied ends the login with exit 1 and stores nothing (R31)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const res = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home, env: { SANDBOX_ACTION: 'deny' } });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('access_denied');
      expect(existsSync(join(home, 'credentials', 'default.json'))).toBe(false);
      expect(existsSync(join(home, 'config.yaml'))).toBe(false);
    } finally {
      cleanup();
    }
  });

  it('--timeout ends a sign-in nobody completes with exit 1 and closes the port (R22)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const child = spawnCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli', '--no-browser', '--timeout', '2'], { home });
      const [, line] = await waitForStderr(child, /\n {2}(http\S+)\n/);
      const redirect = new URL(new URL(line!).searchParams.get('redirect_uri')!);
      const res = await child.result;
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/Timed out after 2 s/);
      await expect(fetch(`${redirect.origin}/callback`)).rejects.toThrow();
    } finally {
      cleanup();
    }
  });

  it('Ctrl-C closes the listener and exits 130 (R22)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const child = spawnCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli', '--no-browser'], { home });
      const [, line] = await waitForStderr(child, /\n {2}(http\S+)\n/);
      const redirect = new URL(new URL(line!).searchParams.get('redirect_uri')!);
      child.kill('SIGINT');
      const res = await child.result;
      expect(res.code).toBe(130);
      await expect(fetch(`${redirect.origin}/callback`)).rejects.toThrow();
    } finally {
      cleanup();
    }
  });

  it('a fixed --port that is taken fails with exit 1 naming the port and --port 0 (R21)', async () => {
    const { home, cleanup } = makeHome();
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const res = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli', '--port', String(port)], { home });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`Port ${port}`);
      expect(res.stderr).toContain('--port 0');
    } finally {
      blocker.close();
      cleanup();
    }
  });
});

describe('configuration', () => {
  it('refuses a non-loopback http issuer with exit 2 before any request (R02)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const res = await runCli(['login', '--issuer', 'http://example.com', '--client-id', 'x'], { home });
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('https://');
    } finally {
      cleanup();
    }
  });

  it('a malformed config file is an error naming file, line and field, and is left untouched', async () => {
    const { home, cleanup } = makeHome();
    try {
      const file = join(home, 'config.yaml');
      const text = 'active: work\nprofiles:\n  work:\n    issuer: https://example.com\n    scopes: 42\n';
      writeFileSync(file, text);
      const res = await runCli(['status'], { home });
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`${file}:5`);
      expect(res.stderr).toContain('profiles.work.scopes');
      const broken = 'profiles:\n  work: [\n';
      writeFileSync(file, broken);
      const res2 = await runCli(['login', '--issuer', 'https://example.com', '--client-id', 'x'], { home });
      expect(res2.code).toBe(2);
      expect(res2.stderr).toContain(file);
      expect(readFileSync(file, 'utf8')).toBe(broken);
    } finally {
      cleanup();
    }
  });

  it('with no issuer and no TTY, login exits 2 naming the flags and env to use', async () => {
    const { home, cleanup } = makeHome();
    try {
      const res = await runCli(['login'], { home });
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('--issuer');
      expect(res.stderr).toContain('AUTH_ISSUER');
    } finally {
      cleanup();
    }
  });
});
