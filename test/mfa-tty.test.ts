import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, BIN, makeHome, runCli } from './support/cli.js';
import { requireSystem } from './support/system.js';
import { BACKUP_LINE, sh, STEP_MS, TmuxPane, tmuxAvailable, totpAt } from './mfa-support.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// `auth mfa` on a real terminal (a tmux pane): the QR code appears only there,
// codes are typed at a masked prompt, and a locked `auth token` asks inline
// while its stdout stays a clean pipe (docs/security.md R84, R101).
const tmux = requireSystem('tmux', tmuxAvailable(), 'tmux is not installed (needed to drive a real terminal)');

describe.skipIf(tmux.skip)('local second factor on a terminal', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-mfa-tty-');
  let now = Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000;
  let secret = '';
  const panes: TmuxPane[] = [];
  const node = `${sh(process.execPath)} ${sh(BIN)}`;
  const pane = (at: number) => {
    const p = new TmuxPane({ ...baseEnv(home, { AUTH_TEST_NOW_MS: String(at) }), TERM: 'xterm-256color' });
    panes.push(p);
    return p;
  };

  beforeAll(async () => {
    tmux.assertAvailable();
    sandbox = await startSandbox({ accessTokenTTL: 86_400 });
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const p of panes) p.kill();
    await sandbox?.close();
    cleanup();
  });

  it('setup on a TTY shows a QR code and the URI, asks for the code at a masked prompt; backup codes go to stdout', async () => {
    const p = pane(now);
    const codesFile = join(home, 'codes.txt');
    p.start(`${node} mfa setup > ${sh(codesFile)}`);
    await p.waitFor(/to confirm/);
    const screen = p.capture();
    // qrcode-terminal's small mode draws with half blocks.
    expect(screen).toMatch(/[▄▀█]{8,}/);
    secret = screen.match(/otpauth:\/\/totp\/\S*secret=([A-Z2-7]+)/)![1]!;
    const code = totpAt(secret, now);
    p.type(code);
    expect(await p.exitCode()).toBe(0);
    // Masked: the typed code is not on the screen.
    expect(p.capture()).not.toContain(code);
    const codes = readFileSync(codesFile, 'utf8').trim().split('\n');
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(BACKUP_LINE);
  });

  it('a locked `auth token` prompts in the terminal; stdout (a pipe) holds only the token (R84, R101)', async () => {
    expect((await runCli(['mfa', 'lock'], { home })).code).toBe(0);
    now += STEP_MS;
    const p = pane(now);
    const out = join(home, 'token.txt');
    p.start(`${node} token | cat > ${sh(out)}`);
    await p.waitFor(/MFA is locked for profile default/);
    await p.waitFor(/authenticator app/);
    p.type(totpAt(secret, now));
    expect(await p.exitCode()).toBe(0);
    const token = readFileSync(out, 'utf8');
    expect(token).toMatch(/^\S+\n$/);
    expect((await sandbox.userinfo(token.trim())).status).toBe(200);
    expect(p.capture()).toContain('MFA unlocked for profile default until');
    expect(p.capture()).not.toContain(token.trim());
    // The window is open now: no prompt, no stdin needed.
    const again = await runCli(['token'], { home, env: { AUTH_TEST_NOW_MS: String(now + 60_000) } });
    expect(again.stdout).toBe(token);
  });

  it('a wrong code at the inline prompt is refused with exit 4 and nothing on stdout', async () => {
    expect((await runCli(['mfa', 'lock'], { home })).code).toBe(0);
    now += STEP_MS;
    const p = pane(now);
    const out = join(home, 'token2.txt');
    p.start(`${node} token > ${sh(out)}`);
    await p.waitFor(/authenticator app/);
    p.type(totpAt(secret, now) === '123456' ? '654321' : '123456');
    expect(await p.exitCode()).toBe(4);
    expect(p.capture()).toContain('Invalid code');
    expect(readFileSync(out, 'utf8')).toBe('');
  });
});
