import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeHome, runCli } from './support/cli.js';
import { startGitHubFixture, type GitHubFixture, type GitHubFixtureOptions } from './support/github-fixture.js';

// The GitHub preset against a local server speaking GitHub's wire format: no
// discovery, form-encoded answers unless JSON is asked for, errors with HTTP
// 200, comma-separated scopes, the account from REST /user, no revocation
// endpoint. The flows are the same ones tested against oidc-provider; what is
// proved here is that the preset's quirk adapter makes GitHub look standard.
describe('GitHub preset (quirks against a GitHub wire-format fixture)', () => {
  let gh: GitHubFixture;
  let home: string;
  let cleanup: () => void;
  const homes: Array<() => void> = [];

  const start = async (options: GitHubFixtureOptions = {}, profile: { flow?: string; endpoints?: boolean } = {}) => {
    gh = await startGitHubFixture(options);
    ({ home, cleanup } = makeHome('auth-github-'));
    homes.push(cleanup);
    // The preset's base URL is a GitHub Enterprise Server-style URL (the fixture); /user is
    // overridden through the profile's endpoints to GitHub.com's path on the same fixture.
    writeFileSync(join(home, 'config.yaml'), [
      'active: gh',
      'profiles:',
      '  gh:',
      '    provider: github',
      `    issuer: ${gh.url}`,
      `    clientId: ${gh.clientId}`,
      // The device flow needs no client secret (GitHub's docs); the browser flow's code exchange does.
      ...(profile.flow === 'device' ? [] : ['    clientSecretEnv: GH_SECRET']),
      `    flow: ${profile.flow ?? 'browser'}`,
      '    scopes: [read:user, user:email]',
      ...(profile.endpoints === false ? [] : ['    endpoints:', `      userinfo: ${gh.url}/user`]),
      '',
    ].join('\n'), { mode: 0o600 });
  };
  const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli(args, { home, env: { GH_SECRET: gh.clientSecret, ...env } });
  const tokenRequests = () => gh.requests.filter((r) => r.path === '/login/oauth/access_token');

  afterEach(async () => {
    await gh?.close();
  });
  afterAll(() => {
    for (const c of homes) c();
  });

  it('browser sign-in: no discovery request, JSON asked for, secret in the body, account from /user, comma scopes made standard', async () => {
    await start();
    const res = await cli(['login']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain(`✓ Logged in to ${gh.url} as octocat (profile gh)`);
    // The authorization URL is GitHub's, with PKCE S256 and a loopback redirect.
    const url = new URL(res.stderr.split('\n').find((l) => l.startsWith('  http'))!.trim());
    expect(url.origin + url.pathname).toBe(`${gh.url}/login/oauth/authorize`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('scope')).toBe('read:user user:email');
    // Presets without discovery are configured with explicit metadata (docs/design.md §8).
    expect(gh.requests.some((r) => r.path.includes('.well-known'))).toBe(false);
    const [exchange] = tokenRequests();
    expect(exchange!.accept).toContain('application/json');
    expect(exchange!.answered).toBe('json');
    expect(exchange!.body.client_secret).toBe(gh.clientSecret);
    expect(exchange!.authorization).toBeUndefined();
    // The account came from REST /user (GitHub.com's path, from the profile's endpoints override).
    const user = gh.requests.find((r) => r.path === '/user')!;
    expect(user.accept).toBe('application/vnd.github+json');
    expect(user.authorization).toMatch(/^Bearer gho_/);
    const stored = JSON.parse(readFileSync(join(home, 'credentials', 'gh.json'), 'utf8'));
    expect(stored.account).toEqual({ sub: '583231', name: 'The Octocat', username: 'octocat' });
    expect(stored.scope).toBe('read:user user:email');
    // GitHub OAuth app tokens do not expire: no expiry invented, no refresh token.
    expect(stored.expires_at).toBeNull();
    expect(stored.refresh_token).toBeUndefined();
    const status = await cli(['status', '--json']);
    expect(status.code).toBe(0);
    const [row] = JSON.parse(status.stdout).profiles;
    expect(row).toMatchObject({ name: 'gh', account: 'octocat', scopes: ['read:user', 'user:email'], expiresAt: null, refreshable: false, loggedIn: true });
    const token = await cli(['token']);
    expect(token.stdout.trim()).toBe(stored.access_token);
    expect(gh.tokens.has(token.stdout.trim())).toBe(true);
    // No standard revocation endpoint: logout says so and removes the token locally (exit 0).
    const out = await cli(['logout']);
    expect(out.code).toBe(0);
    expect(out.stderr).toContain('provider has no revocation endpoint; removed locally');
    expect(gh.requests.filter((r) => r.method !== 'GET' && !r.path.startsWith('/login/')).length).toBe(0);
  });

  it('a form-encoded token response (no JSON even when asked) still signs in', async () => {
    await start({ formOnly: true }, { endpoints: false });
    const res = await cli(['login']);
    expect(res.code, res.stderr).toBe(0);
    expect(tokenRequests()[0]!.answered).toBe('form');
    // Without the endpoints override, /user is at the Enterprise Server path /api/v3/user.
    expect(gh.requests.some((r) => r.path === '/api/v3/user')).toBe(true);
    expect(res.stderr).toContain('as octocat (profile gh)');
    const stored = JSON.parse(readFileSync(join(home, 'credentials', 'gh.json'), 'utf8'));
    expect(stored.scope).toBe('read:user user:email');
  });

  it('an error returned with HTTP 200 (bad_verification_code) is a proper OAuth error: exit 1, named, nothing stored', async () => {
    await start({ tokenError: 'bad_verification_code' });
    const res = await cli(['login']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/invalid_grant/);
    expect(res.stderr).toContain('GitHub: bad_verification_code');
    expect(res.stderr).not.toContain('Logged in');
    expect(res.stderr).not.toMatch(/unexpected|access_token/i);
    const status = await cli(['status']);
    expect(status.code).toBe(4);
  });

  it('wrong client secret (incorrect_client_credentials at HTTP 200) is reported as invalid_client', async () => {
    await start();
    const res = await cli(['login'], { GH_SECRET: 'not-the-secret' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/invalid_client/);
    expect(res.stderr).toContain('GitHub: incorrect_client_credentials');
    expect(res.stderr).not.toContain('not-the-secret');
  });

  it('device flow: authorization_pending then slow_down at HTTP 200; the next poll waits 5 s longer (R49)', async () => {
    await start({ slowDowns: 1, interval: 1 }, { flow: 'device' });
    const res = await cli(['login', '--no-qr']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain(`To sign in, open ${gh.url}/login/device and enter the code: WDJB-MJHT`);
    expect(res.stderr).toContain('as octocat (profile gh)');
    const device = gh.requests.find((r) => r.path === '/login/device/code')!;
    expect(device.accept).toContain('application/json');
    expect(device.body.client_secret).toBeUndefined();
    const polls = tokenRequests();
    expect(polls.map((p) => p.body.grant_type)).toEqual(Array(3).fill('urn:ietf:params:oauth:grant-type:device_code'));
    // poll 1: authorization_pending; poll 2: slow_down; poll 3 comes at least interval + 5 s later.
    expect(polls[2]!.at - polls[1]!.at).toBeGreaterThanOrEqual(5_900);
  }, 180_000);

  it('device flow denied on GitHub (access_denied at HTTP 200): exit 1 with the denial, nothing stored', async () => {
    await start({ deny: true }, { flow: 'device' });
    const res = await cli(['login', '--no-qr']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Sign-in was denied');
    expect((await cli(['status'])).code).toBe(4);
  });

  it('expiring user tokens: refresh at the token endpoint; a dead refresh token (bad_refresh_token at 200) ends the session (exit 4)', async () => {
    await start({ expiring: true });
    expect((await cli(['login'])).code).toBe(0);
    const first = JSON.parse(readFileSync(join(home, 'credentials', 'gh.json'), 'utf8'));
    expect(first.refresh_token).toMatch(/^ghr_/);
    expect(first.expires_at).toBeGreaterThan(Date.now() / 1000 + 28_000);
    const refreshed = await cli(['refresh', '--force']);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    const second = JSON.parse(readFileSync(join(home, 'credentials', 'gh.json'), 'utf8'));
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.account.username).toBe('octocat');
    const refresh = tokenRequests().find((r) => r.body.grant_type === 'refresh_token')!;
    expect(refresh.accept).toContain('application/json');
    // Replaying the rotated-out refresh token: GitHub says bad_refresh_token with HTTP 200.
    writeFileSync(join(home, 'credentials', 'gh.json'), JSON.stringify(first), { mode: 0o600 });
    const dead = await cli(['refresh', '--force']);
    expect(dead.code).toBe(4);
    expect(dead.stderr).toMatch(/session .*has ended/i);
  });
});
