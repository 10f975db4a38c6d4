import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv, BIN, makeHome, runCli } from './support/cli.js';
import { requireSystem } from './support/system.js';
import { sh, TmuxPane, tmuxAvailable } from './mfa-support.js';

// `auth login --with-token` (as `gh auth login --with-token`): a token or API key
// from stdin — never argv — stored as a static credential with no refresh token
// and no expiry, then served by `auth token` and shown by `auth status`.

const TOKEN = 'pat_4f0c1b7e9d2a48c6b35e0f17a9d3c2e1';

describe('auth login --with-token', () => {
  const homes: Array<{ home: string; cleanup(): void }> = [];
  const home = () => {
    const h = makeHome();
    homes.push(h);
    return h.home;
  };
  afterAll(() => {
    for (const h of homes) h.cleanup();
  });

  it('stores the token from stdin; `auth token` prints it; `auth status` shows a static token (R81, R86)', async () => {
    const h = home();
    const login = await runCli(['login', '--with-token'], { home: h, input: `${TOKEN}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toBe('');
    expect(login.stderr).toContain('✓ Stored the token as a static credential (profile default).');
    expect(login.stderr).not.toContain(TOKEN);

    const stored = JSON.parse(readFileSync(join(h, 'credentials', 'default.json'), 'utf8'));
    expect(stored).toMatchObject({ kind: 'static', access_token: TOKEN, token_type: 'Bearer', expires_at: null, issuer: 'static' });
    expect(stored.refresh_token).toBeUndefined();

    const token = await runCli(['token'], { home: h });
    expect(token.code).toBe(0);
    expect(token.stdout).toBe(`${TOKEN}\n`);
    expect(token.stderr).toBe('');
    const header = await runCli(['token', '--format', 'header'], { home: h });
    expect(header.stdout).toBe(`Authorization: Bearer ${TOKEN}\n`);
    const json = await runCli(['token', '--format', 'json'], { home: h });
    expect(JSON.parse(json.stdout)).toEqual({ access_token: TOKEN, token_type: 'Bearer', expires_at: null, scope: '' });

    const status = await runCli(['status'], { home: h });
    expect(status.code).toBe(0);
    expect(status.stderr).toContain('static token (no expiry known)');
    expect(status.stderr).toContain('no refresh token');
    expect(status.stdout + status.stderr).not.toContain(TOKEN);
    const statusJson = await runCli(['status', '--json'], { home: h });
    expect(JSON.parse(statusJson.stdout).profiles[0]).toMatchObject({ name: 'default', loggedIn: true, refreshable: false, expiresAt: null });
  });

  it('records the issuer given by flag without contacting it, and saves it to the profile', async () => {
    const h = home();
    // An unresolvable host: any discovery attempt would fail the command.
    const login = await runCli(['login', '--with-token', '-p', 'ci', '--issuer', 'https://login.invalid', '--client-id', 'ci-bot'], { home: h, input: `  ${TOKEN}  \n\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('static credential for https://login.invalid (profile ci)');
    const stored = JSON.parse(readFileSync(join(h, 'credentials', 'ci.json'), 'utf8'));
    expect(stored).toMatchObject({ kind: 'static', access_token: TOKEN, issuer: 'https://login.invalid', client_id: 'ci-bot' });
    const config = readFileSync(join(h, 'config.yaml'), 'utf8');
    expect(config).toContain('issuer: https://login.invalid');
    expect(config).not.toContain(TOKEN);
    const token = await runCli(['token', '-p', 'ci'], { home: h });
    expect(token.stdout).toBe(`${TOKEN}\n`);
    const status = await runCli(['status', '-p', 'ci'], { home: h });
    expect(status.stderr).toContain('Issuer:   https://login.invalid');
  });

  it('logout removes a static token locally without trying to revoke it', async () => {
    const h = home();
    expect((await runCli(['login', '--with-token', '--issuer', 'https://login.invalid'], { home: h, input: TOKEN })).code).toBe(0);
    const logout = await runCli(['logout'], { home: h });
    expect(logout.code, logout.stderr).toBe(0);
    expect(logout.stderr).toContain('removed locally (a static token is not revoked by auth');
    expect(existsSync(join(h, 'credentials', 'default.json'))).toBe(false);
    const token = await runCli(['token'], { home: h });
    expect(token.code).toBe(4);
    expect(token.stdout).toBe('');
  });

  it('refuses empty, multi-line and malformed input with exit 2, never echoing it; nothing stored (R85)', async () => {
    const cases: Array<[string, RegExp]> = [
      ['', /No token was given on stdin/],
      ['\n  \n', /No token was given on stdin/],
      [`${TOKEN}\nsecond-line-${TOKEN}\n`, /more than one line/],
      [`bad token ${TOKEN}\n`, /spaces, control or non-ASCII/],
      [`${TOKEN}\u001b[2J\n`, /spaces, control or non-ASCII/],
    ];
    for (const [input, message] of cases) {
      const h = home();
      const res = await runCli(['login', '--with-token'], { home: h, input });
      expect(res.code, JSON.stringify(input)).toBe(2);
      expect(res.stderr).toMatch(message);
      expect(res.stderr).not.toContain(TOKEN);
      expect(existsSync(join(h, 'credentials', 'default.json'))).toBe(false);
    }
  });

  it('cannot be combined with a sign-in flow', async () => {
    const res = await runCli(['login', '--with-token', '--device'], { home: home(), input: TOKEN });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--with-token cannot be combined with --device');
  });
});

const tmux = requireSystem('tmux', tmuxAvailable(), 'tmux is not installed (needed to drive a real terminal)');

describe.skipIf(tmux.skip)('auth login --with-token on a terminal (tmux)', () => {
  let pane: TmuxPane | undefined;
  afterEach(() => pane?.kill());

  it('asks at a masked prompt: the token is stored but never shown on the screen (R86)', async () => {
    tmux.assertAvailable();
    const { home, cleanup } = makeHome();
    try {
      pane = new TmuxPane({ ...baseEnv(home), TERM: 'xterm-256color' });
      pane.start(`${sh(process.execPath)} ${sh(BIN)} login --with-token`);
      await pane.waitFor(/Paste the token or API key/);
      pane.type(TOKEN);
      expect(await pane.exitCode()).toBe(0);
      expect(pane.capture()).not.toContain(TOKEN);
      expect(JSON.parse(readFileSync(join(home, 'credentials', 'default.json'), 'utf8')).access_token).toBe(TOKEN);
    } finally {
      cleanup();
    }
  });
});
