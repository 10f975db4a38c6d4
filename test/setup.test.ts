import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, BIN, makeHome, runCli } from './support/cli.js';
import { requireSystem } from './support/system.js';
import { validateField, validateScopes } from '../src/commands/setup.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

const tmuxAvailable = spawnSync('tmux', ['-V']).status === 0;

/** Files under `dir` whose bytes contain `needle`. */
function grepHome(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && readFileSync(path).includes(needle)) hits.push(path);
    }
  };
  walk(dir);
  return hits;
}
const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A real pseudo-terminal: a 120×40 tmux pane on this test's own tmux server
 * (`-L <unique socket>`), killed at the end; nothing else's tmux is touched.
 */
class Pane {
  private readonly socket = `auth-setup-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(private readonly env: NodeJS.ProcessEnv) {}
  private tmux(args: string[]): string {
    const res = spawnSync('tmux', ['-L', this.socket, ...args], { env: this.env, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`tmux ${args[0]} failed: ${res.stderr}`);
    return res.stdout;
  }
  start(args: string[]): void {
    const command = `${sh(process.execPath)} ${sh(BIN)} ${args.map(sh).join(' ')}; echo "[exit $?]"; sleep 600`;
    this.tmux(['new-session', '-d', '-s', 'main', '-x', '120', '-y', '40', 'sh', '-c', command]);
  }
  capture(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-300', '-t', 'main']);
  }
  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', 'main', ...keys]);
  }
  type(text: string): void {
    if (text) this.tmux(['send-keys', '-t', 'main', '-l', text]);
  }
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.capture().match(pattern);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in the pane:\n${this.capture()}`);
      await new Promise((r) => setTimeout(r, 40));
    }
  }
  /** Waits for the prompt (the active one starts with "?"), types the answer, presses Enter. */
  async answer(prompt: string, text = ''): Promise<void> {
    await this.waitFor(new RegExp(`^\\? ${prompt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    this.type(text);
    this.keys('Enter');
  }
  async exitCode(timeoutMs = 30_000): Promise<number> {
    return Number((await this.waitFor(/\[exit (\d+)\]/, timeoutMs))[1]);
  }
  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { env: this.env });
  }
}

const tmux = requireSystem('tmux', tmuxAvailable, 'tmux is not installed (needed to drive the wizard in a real terminal)');

describe.skipIf(tmux.skip)('auth setup in a terminal (tmux pseudo-terminal, sandbox provider)', () => {
  let sandbox: Sandbox;
  const panes: Pane[] = [];
  const homes: Array<() => void> = [];
  const fresh = () => {
    const h = makeHome('auth-setup-');
    homes.push(h.cleanup);
    return h.home;
  };
  const pane = (home: string, args: string[], env: Record<string, string | undefined> = {}) => {
    const p = new Pane({ ...baseEnv(home, env), TERM: 'xterm-256color' });
    panes.push(p);
    p.start(args);
    return p;
  };
  const config = (home: string) => parse(readFileSync(join(home, 'config.yaml'), 'utf8'));
  /** Custom OAuth 2 with the sandbox's endpoints, no optional endpoint, the sandbox's issuer, up to the client id. */
  const customOauth2 = async (p: Pane) => {
    await p.answer('Provider', '9');
    await p.answer('Authorization endpoint', `${sandbox.issuer}/auth`);
    await p.answer('Token endpoint', `${sandbox.issuer}/token`);
    for (const prompt of ['Device authorization endpoint', 'Revocation endpoint', 'User info endpoint']) await p.answer(prompt);
    await p.answer('Issuer identifier', sandbox.issuer);
    await p.answer('Client ID', 'auth-cli');
  };

  beforeAll(async () => {
    tmux.assertAvailable();
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
  });
  afterAll(async () => {
    for (const p of panes) p.kill();
    await sandbox?.close();
    for (const c of homes) c();
  });

  it('generic OpenID Connect from nothing to a saved profile that logs in; its token works at the provider', async () => {
    const home = fresh();
    const p = pane(home, ['setup']);
    await p.waitFor(/auth setup: configure how to sign in/);
    await p.answer('Provider', '8'); // 8th preset: OpenID Connect
    await p.answer('Issuer URL', sandbox.issuer);
    await p.answer('Client ID', 'auth-cli');
    await p.answer('Client secret'); // none — a public client
    await p.answer('Scopes'); // preset defaults, preselected
    await p.answer('Other scopes');
    await p.answer('Resource indicators');
    await p.answer('Sign-in flow'); // auto
    await p.answer('Where to keep the tokens', '3'); // file
    await p.answer('Profile name', 'work');
    await p.waitFor(/answered with its discovery document \(browser sign-in, device flow, revocation\)/);
    await p.answer('Log in now?');
    expect(await p.exitCode()).toBe(0);
    const screen = p.capture();
    if (process.env.AUTH_TEST_SCREEN_DIR) {
      mkdirSync(process.env.AUTH_TEST_SCREEN_DIR, { recursive: true });
      writeFileSync(join(process.env.AUTH_TEST_SCREEN_DIR, 'setup-wizard.txt'), screen);
    }
    expect(screen).toContain('✔ Provider OpenID Connect');
    expect(screen).toContain('✔ Scopes (space toggles, Enter accepts) openid, profile, email, offline_access');
    expect(screen).toContain(`✓ Saved profile work in ${join(home, 'config.yaml')}`);
    expect(screen).toContain(`✓ Logged in to ${sandbox.issuer} as alice@example.com (profile work)`);
    expect(config(home)).toEqual({
      active: 'work',
      profiles: { work: { provider: 'oidc', issuer: sandbox.issuer, clientId: 'auth-cli', scopes: ['openid', 'profile', 'email', 'offline_access'], flow: 'auto', storage: 'file' } },
    });
    // The saved profile works for scripts: no flags, no TTY.
    const token = await runCli(['token'], { home });
    expect(token.code, token.stderr).toBe(0);
    expect((await sandbox.userinfo(token.stdout.trim())).status).toBe(200);
  });

  it('re-running edits the profile with the current values as defaults; Enter keeps them', async () => {
    const home = fresh();
    writeFileSync(join(home, 'config.yaml'), `active: work\nprofiles:\n  work:\n    provider: oidc\n    issuer: ${sandbox.issuer}\n    clientId: auth-cli\n    scopes: [openid, email]\n    flow: browser\n    storage: file\n  other:\n    issuer: https://login.example.com\n    clientId: x\n`);
    const p = pane(home, ['setup', '-p', 'work']);
    await p.waitFor(/Editing profile work/);
    await p.waitFor(/^\? Provider[\s\S]*❯ OpenID Connect/m);
    await p.answer('Provider');
    await p.waitFor(new RegExp(`Issuer URL \\(exactly as the provider documents it\\) \\(${sandbox.issuer.replace(/[.:/]/g, '\\$&')}\\)`));
    await p.answer('Issuer URL');
    await p.answer('Client ID');
    await p.answer('Client secret');
    await p.answer('Scopes');
    await p.answer('Other scopes', 'api:read');
    await p.answer('Resource indicators');
    await p.waitFor(/^\? Sign-in flow[\s\S]*❯ browser/m);
    await p.answer('Sign-in flow');
    await p.answer('Where to keep the tokens');
    await p.answer('Profile name');
    await p.waitFor(/answered with its discovery document/);
    await p.answer('Log in now?', 'n');
    expect(await p.exitCode()).toBe(0);
    expect(p.capture()).toContain('Sign in later with: auth login -p work');
    const saved = config(home);
    expect(saved.profiles.work).toEqual({ provider: 'oidc', issuer: sandbox.issuer, clientId: 'auth-cli', scopes: ['openid', 'email', 'api:read'], flow: 'browser', storage: 'file' });
    expect(saved.profiles.other).toEqual({ issuer: 'https://login.example.com', clientId: 'x' });
    expect(saved.active).toBe('work');
  });

  it('a new profile never clobbers an existing one without a yes; a failed discovery check is reported and can be edited', async () => {
    const home = fresh();
    writeFileSync(join(home, 'config.yaml'), `active: work\nprofiles:\n  work:\n    issuer: ${sandbox.issuer}\n    clientId: auth-cli\n`);
    const p = pane(home, ['setup']);
    await p.waitFor(/^\? Which profile\?[\s\S]*Create a new profile/m);
    p.keys('Down');
    await p.answer('Which profile?');
    await p.answer('Provider', '8');
    await p.answer('Issuer URL', 'http://127.0.0.1:9'); // nothing listens there
    await p.answer('Client ID', 'auth-cli');
    await p.answer('Client secret');
    await p.answer('Scopes');
    await p.answer('Other scopes');
    await p.answer('Resource indicators');
    await p.answer('Sign-in flow');
    await p.answer('Where to keep the tokens', '3');
    await p.answer('Profile name', 'work');
    await p.answer('A profile named work already exists. Replace it?'); // default: no
    await p.answer('Profile name', 'ci');
    await p.waitFor(/✗ Could not check http:\/\/127\.0\.0\.1:9: /);
    await p.waitFor(/^\? What now\?[\s\S]*Edit the settings[\s\S]*Save anyway[\s\S]*Cancel without saving/m);
    await p.answer('What now?'); // Edit the settings
    await p.answer('Provider');
    // The answers so far are the defaults now; fix the issuer.
    await p.waitFor(/Issuer URL .*\(http:\/\/127\.0\.0\.1:9\)/);
    await p.answer('Issuer URL', sandbox.issuer);
    for (const prompt of ['Client ID', 'Client secret', 'Scopes', 'Other scopes', 'Resource indicators', 'Sign-in flow', 'Where to keep the tokens', 'Profile name']) await p.answer(prompt);
    await p.waitFor(/answered with its discovery document/);
    await p.answer('Make ci the active profile (now work)?', 'n');
    await p.answer('Log in now?', 'n');
    expect(await p.exitCode()).toBe(0);
    const saved = config(home);
    expect(saved.profiles.work).toEqual({ issuer: sandbox.issuer, clientId: 'auth-cli' });
    expect(saved.profiles.ci).toMatchObject({ provider: 'oidc', issuer: sandbox.issuer, storage: 'file' });
    expect(saved.active).toBe('work');
  });

  it('every default on a machine without a Secret Service: no `storage:` is written, and the sign-in falls back to a private file', async () => {
    const home = fresh();
    // baseEnv pins AUTH_STORAGE=file for the other tests; a newcomer has none (and no D-Bus here).
    const p = pane(home, ['setup'], { AUTH_STORAGE: undefined });
    await p.answer('Provider', '8'); // OpenID Connect
    await p.answer('Issuer URL', sandbox.issuer);
    await p.answer('Client ID', 'auth-cli');
    for (const prompt of ['Client secret', 'Scopes', 'Other scopes', 'Resource indicators', 'Sign-in flow']) await p.answer(prompt);
    await p.waitFor(/^\? Where to keep the tokens[\s\S]*❯ default — the OS keychain, or a private file/m);
    await p.answer('Where to keep the tokens');
    await p.answer('Profile name');
    await p.answer('Log in now?');
    await p.waitFor(/✓ Logged in to /, 60_000);
    expect(await p.exitCode()).toBe(0);
    const saved = config(home);
    expect(saved.profiles.default).toEqual({ provider: 'oidc', issuer: sandbox.issuer, clientId: 'auth-cli', scopes: ['openid', 'profile', 'email', 'offline_access'], flow: 'auto' });
    expect(existsSync(join(home, 'credentials', 'default.json'))).toBe(true);
    expect(p.capture()).toMatch(/The OS keychain is unavailable/);
    const token = await runCli(['token'], { home, env: { AUTH_STORAGE: undefined } });
    expect(token.code, token.stderr).toBe(0);
  });

  it("a custom OAuth 2 profile on the issuer of an existing profile is refused before saving (no \"save anyway\"); the existing profile keeps working", async () => {
    const home = fresh();
    const login = await runCli(['login', '-p', 'work', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
    const before = readFileSync(join(home, 'config.yaml'), 'utf8');
    const p = pane(home, ['setup']);
    await p.answer('Which profile?', '2'); // Create a new profile
    await customOauth2(p);
    for (const prompt of ['Client secret', 'Other scopes', 'Resource indicators', 'Sign-in flow', 'Where to keep the tokens']) await p.answer(prompt);
    await p.answer('Profile name', 'api');
    await p.waitFor(/✗ Profiles (api and work|work and api) use the same issuer/);
    const menu = await p.waitFor(/^\? What now\?[\s\S]*Cancel without saving/m);
    expect(menu[0]).not.toContain('Save anyway');
    await p.answer('What now?', '2'); // Cancel without saving
    expect(await p.exitCode()).not.toBe(0);
    expect(readFileSync(join(home, 'config.yaml'), 'utf8')).toBe(before);
    const token = await runCli(['token', '-p', 'work', '--min-ttl', '99999999'], { home });
    expect(token.code, token.stderr).toBe(0);
  });

  it('custom OAuth 2 with the openid scope asks for the JWKS URI: empty drops openid, a URI is saved as endpoints.jwks', async () => {
    for (const jwks of ['', `${sandbox.issuer}/jwks`]) {
      const home = fresh();
      const p = pane(home, ['setup']);
      await customOauth2(p);
      await p.answer('Client secret');
      await p.answer('Other scopes', 'openid email');
      await p.answer('JWKS URI', jwks);
      if (!jwks) await p.waitFor(/Dropped the openid scope/);
      for (const prompt of ['Resource indicators', 'Sign-in flow', 'Where to keep the tokens', 'Profile name']) await p.answer(prompt);
      await p.answer('Log in now?', jwks ? '' : 'n');
      expect(await p.exitCode(60_000)).toBe(0);
      const saved = config(home).profiles.default;
      if (jwks) {
        expect(saved).toMatchObject({ scopes: ['openid', 'email'], endpoints: { jwks } });
        expect(p.capture()).toMatch(/✓ Logged in to /);
      } else {
        expect(saved.scopes).toEqual(['email']);
        expect(saved.endpoints.jwks).toBeUndefined();
      }
    }
  });

  it('encrypted-file: the passphrase is asked before the browser opens; an empty or mismatched answer stops there, nothing stored', async () => {
    const home = fresh();
    const env = { AUTH_STORAGE: 'encrypted-file' };
    const login = ['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'];
    const empty = pane(home, login, env);
    await empty.answer('New passphrase for the encrypted credential store');
    expect(await empty.exitCode()).toBe(2);
    expect(empty.capture()).toContain('An empty passphrase cannot protect the credential store.');
    expect(empty.capture()).not.toContain('Open this URL');
    const mismatch = pane(home, login, env);
    await mismatch.answer('New passphrase for the encrypted credential store', 'correct horse');
    await mismatch.answer('Repeat the passphrase', 'battery staple');
    expect(await mismatch.exitCode()).toBe(2);
    expect(mismatch.capture()).toContain('The passphrases did not match');
    expect(mismatch.capture()).not.toContain('Open this URL');
    expect(existsSync(join(home, 'credentials', 'default.json'))).toBe(false);
    const ok = pane(home, login, env);
    await ok.answer('New passphrase for the encrypted credential store', 'correct horse');
    await ok.answer('Repeat the passphrase', 'correct horse');
    expect(await ok.exitCode(60_000)).toBe(0);
    const screen = ok.capture();
    expect(screen.indexOf('Repeat the passphrase')).toBeLessThan(screen.indexOf('Open this URL'));
    expect(readFileSync(join(home, 'credentials', 'default.json')).subarray(0, 7).toString()).toBe('AUTHENC');
  });

  it('a Keycloak URL pasted with its realm is split: the realm is the default answer, the issuer is not doubled', async () => {
    const home = fresh();
    const p = pane(home, ['setup']);
    await p.answer('Provider', '7'); // Keycloak
    await p.answer('Keycloak URL', 'http://127.0.0.1:9/realms/acme/');
    await p.waitFor(/Using http:\/\/127\.0\.0\.1:9 with realm acme\./);
    await p.waitFor(/^\? Realm \(acme\)/m);
    await p.answer('Realm');
    await p.answer('Client ID', 'auth-cli');
    for (const prompt of ['Scopes', 'Other scopes', 'Sign-in flow', 'Where to keep the tokens', 'Profile name']) await p.answer(prompt);
    await p.waitFor(/✗ Could not check http:\/\/127\.0\.0\.1:9\/realms\/acme: /);
    await p.answer('What now?', '2'); // Save anyway
    await p.answer('Log in now?', 'n');
    expect(await p.exitCode()).toBe(0);
    expect(config(home).profiles.default).toMatchObject({ provider: 'keycloak', issuer: 'http://127.0.0.1:9/realms/acme' });
  });

  it('a client secret typed in the wizard is masked, kept in the credential store, only named in the config; remove deletes it', async () => {
    const home = fresh();
    const secret = sandbox.service.clientSecret;
    const p = pane(home, ['setup']);
    await p.answer('Provider', '8');
    await p.answer('Issuer URL', sandbox.issuer);
    await p.answer('Client ID', sandbox.service.clientId);
    await p.waitFor(/^\? Client secret[\s\S]*type it now/m);
    p.keys('Down');
    await p.answer('Client secret'); // type it now
    await p.answer('Client secret', secret); // the masked input
    await p.answer('Scopes', ' '); // untick openid: a service account wants none of the user scopes
    for (const prompt of ['Other scopes', 'Resource indicators', 'Sign-in flow']) await p.answer(prompt);
    await p.answer('Where to keep the tokens', '3');
    await p.answer('Profile name', 'svc');
    await p.waitFor(/answered with its discovery document/);
    await p.answer('Log in now?', 'n');
    expect(await p.exitCode()).toBe(0);
    expect(p.capture()).not.toContain(secret);
    const text = readFileSync(join(home, 'config.yaml'), 'utf8');
    expect(text).not.toContain(secret);
    expect(config(home).profiles.svc.clientSecretEnv).toBe('AUTH_CLIENT_SECRET_SVC');
    expect(grepHome(home, secret)).toHaveLength(1);
    // The stored secret is used (the variable that names it is not set).
    const login = await runCli(['login', '-p', 'svc', '--client-credentials'], { home });
    expect(login.code, login.stderr).toBe(0);
    const removed = await runCli(['profiles', 'remove', 'svc'], { home });
    expect(removed.stderr).toContain('Logged out of profile svc');
    expect(removed.stderr).toContain('Removed the stored client secret of profile svc.');
    expect(removed.stderr).toContain('Removed profile svc.');
    expect(config(home).profiles.svc).toBeUndefined();
    expect(grepHome(home, secret)).toEqual([]);
  });

  it('a typed client secret with the default storage on a machine without a Secret Service: kept in a private file, and it works', async () => {
    const home = fresh();
    const secret = sandbox.service.clientSecret;
    const env = { AUTH_STORAGE: undefined };
    const p = pane(home, ['setup'], env);
    await p.answer('Provider', '8');
    await p.answer('Issuer URL', sandbox.issuer);
    await p.answer('Client ID', sandbox.service.clientId);
    await p.waitFor(/^\? Client secret[\s\S]*type it now/m);
    p.keys('Down');
    await p.answer('Client secret'); // type it now
    await p.answer('Client secret', secret);
    await p.answer('Scopes', ' ');
    for (const prompt of ['Other scopes', 'Resource indicators', 'Sign-in flow', 'Where to keep the tokens']) await p.answer(prompt);
    await p.answer('Profile name', 'svc');
    await p.waitFor(/answered with its discovery document/);
    await p.answer('Log in now?', 'n');
    expect(await p.exitCode()).toBe(0);
    expect(config(home).profiles.svc).not.toHaveProperty('storage');
    expect(grepHome(home, secret)).toEqual([join(home, 'credentials', 'svc.client-secret')]);
    const login = await runCli(['login', '-p', 'svc', '--client-credentials'], { home, env });
    expect(login.code, login.stderr).toBe(0);
  });

  it('Ctrl-C cancels: exit 130, nothing saved', async () => {
    const home = fresh();
    const p = pane(home, ['setup']);
    await p.answer('Provider', '8');
    await p.waitFor(/^\? Issuer URL/m);
    p.keys('C-c');
    expect(await p.exitCode()).toBe(130);
    expect(existsSync(join(home, 'config.yaml'))).toBe(false);
  });

  it('`auth login` with no profile on a terminal runs the wizard first, then signs in', async () => {
    const home = fresh();
    const p = pane(home, ['login']);
    await p.answer('Provider', '8');
    await p.answer('Issuer URL', sandbox.issuer);
    await p.answer('Client ID', 'auth-cli');
    for (const prompt of ['Client secret', 'Scopes', 'Other scopes', 'Resource indicators', 'Sign-in flow']) await p.answer(prompt);
    await p.answer('Where to keep the tokens', '3');
    expect(await p.exitCode()).toBe(0);
    const screen = p.capture();
    // The profile name is the one login was asked for; no "Log in now?" — it signs in at once.
    expect(screen).not.toContain('Profile name');
    expect(screen).not.toContain('Log in now?');
    expect(screen).toContain(`✓ Logged in to ${sandbox.issuer} as alice@example.com (profile default)`);
    expect(config(home).profiles.default).toMatchObject({ provider: 'oidc', issuer: sandbox.issuer, clientId: 'auth-cli' });
    expect((await runCli(['status'], { home })).code).toBe(0);
  });
});

describe('without a terminal', () => {
  const { home, cleanup } = makeHome('auth-setup-notty-');
  afterAll(cleanup);

  it('`auth setup` exits 2 and prints the equivalent non-interactive command', async () => {
    const res = await runCli(['setup'], { home });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('`auth setup` is interactive and needs a terminal');
    expect(res.stderr).toContain('auth login --issuer <issuer-url> --client-id <client-id>');
    expect(res.stderr).toContain('AUTH_ISSUER and AUTH_CLIENT_ID');
    expect(existsSync(join(home, 'config.yaml'))).toBe(false);
  });

  it('for an existing profile the printed command carries its settings', async () => {
    writeFileSync(join(home, 'config.yaml'), 'active: work\nprofiles:\n  work:\n    provider: okta\n    issuer: https://dev-1.okta.com/oauth2/default\n    clientId: 0oa123\n    scopes: [openid, offline_access]\n    flow: device\n');
    const res = await runCli(['setup'], { home });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("auth login -p work --issuer https://dev-1.okta.com/oauth2/default --client-id 0oa123 --scope 'openid offline_access' --device");
  });

  it('`auth login` with no issuer anywhere exits 2 naming the flags and env to pass (no wizard without a TTY)', async () => {
    const { home: empty, cleanup: done } = makeHome('auth-setup-notty-');
    try {
      const res = await runCli(['login'], { home: empty });
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('--issuer <url> --client-id <id>');
      expect(res.stderr).toContain('AUTH_ISSUER');
      expect(res.stderr).not.toContain('? Provider');
      expect(existsSync(join(empty, 'config.yaml'))).toBe(false);
    } finally {
      done();
    }
  });
});

describe('wizard validation', () => {
  const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  it('URLs must be https (plain http only on loopback), without query, fragment or credentials', () => {
    const url = { kind: 'url' as const, message: 'Issuer URL' };
    expect(validateField(url, 'https://login.example.com')).toBe(true);
    expect(validateField(url, 'http://127.0.0.1:8080')).toBe(true);
    expect(validateField(url, 'http://login.example.com')).toMatch(/https/);
    expect(validateField(url, 'login.example.com')).toMatch(/full URL/);
    expect(validateField(url, 'https://login.example.com/?x=1')).toMatch(/query/);
    expect(validateField(url, '')).toMatch(/required/);
    expect(validateField({ ...url, optional: true }, '')).toBe(true);
  });

  it('Entra tenant: a GUID, an alias, or a domain; nothing else', () => {
    const tenant = { kind: 'tenant' as const, message: 'Tenant ID' };
    for (const ok of [TENANT, 'common', 'organizations', 'consumers', 'contoso.onmicrosoft.com']) expect(validateField(tenant, ok), ok).toBe(true);
    for (const bad of ['72f988bf-86f1-41af', 'my tenant', 'https://login.microsoftonline.com/common']) expect(validateField(tenant, bad), bad).toMatch(/Directory \(tenant\) ID/);
  });

  it('host names, realm names and scopes', () => {
    expect(validateField({ kind: 'host', message: 'Okta domain' }, 'https://dev-1.okta.com/')).toBe(true);
    expect(validateField({ kind: 'host', message: 'Okta domain' }, 'http://dev-1.okta.com')).toMatch(/https/);
    expect(validateField({ kind: 'host', message: 'Okta domain' }, 'not a host')).toMatch(/host name/);
    expect(validateField({ kind: 'segment', message: 'Realm' }, 'acme')).toBe(true);
    expect(validateField({ kind: 'segment', message: 'Realm' }, 'a/b')).toMatch(/single name/);
    expect(validateScopes('openid read:user https://www.googleapis.com/auth/cloud-platform')).toBe(true);
    expect(validateScopes('ok "quoted"')).toMatch(/not a valid scope/);
  });
});
