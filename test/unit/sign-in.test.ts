import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chooseFlow, rememberProfile, signIn, storeStaticToken, type SignInProfile, type SignInView } from '../../src/app/sign-in.js';
import { resolveProfile } from '../../src/config/resolve.js';
import type { Credential } from '../../src/domain/credential.js';
import { fakeDeps, NOW, type Responder } from './fake-deps.js';

// The sign-in use cases (src/app/sign-in.ts) in process, with fake ports: a scripted provider
// behind the fetch port, an in-memory store, a view that records what a person would see.

const ISSUER = 'https://login.example';
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A plain OAuth 2 provider with a device endpoint: the first poll is approved. */
const provider = (calls: string[]): Responder => (url, init) => {
  calls.push(`${init?.method ?? 'GET'} ${url.pathname}`);
  if (url.pathname === '/.well-known/openid-configuration') {
    return json({ issuer: ISSUER, authorization_endpoint: `${ISSUER}/authorize`, token_endpoint: `${ISSUER}/token`, device_authorization_endpoint: `${ISSUER}/device`, userinfo_endpoint: `${ISSUER}/me` });
  }
  if (url.pathname === '/device') return json({ device_code: 'DEVICE-CODE-SECRET', user_code: 'ABCD-EFGH', verification_uri: `${ISSUER}/activate`, expires_in: 60, interval: 1 });
  if (url.pathname === '/token') return json({ access_token: 'AT-new', token_type: 'Bearer', expires_in: 3600, refresh_token: 'RT-new', scope: 'api' });
  if (url.pathname === '/me') return json({ sub: 'u1', email: 'alice@example.com' });
  return undefined;
};

function recordingView() {
  const seen: string[] = [];
  const view: SignInView = {
    deviceCode: async (info) => void seen.push(`code ${info.userCode} at ${info.verificationUri}`),
    authorizationUrl: (url, browser) => void seen.push(`url ${new URL(url).pathname} launch=${browser.ok}`),
    browserFailed: (e, switching) => void seen.push(`browser failed (${e.message}) switching=${switching}`),
    waiting: (kind) => void seen.push(`waiting ${kind}`),
    doneWaiting: () => undefined,
    networkRetry: () => undefined,
    browserPage: () => ({ title: 'Signed in', lines: [] }),
  };
  return { view, seen };
}

function profileFor(deps: ReturnType<typeof fakeDeps>['deps'], flow?: 'device' | 'browser'): SignInProfile {
  const p = resolveProfile({ profiles: {} }, deps.env, { issuer: ISSUER, clientId: 'cli', scope: ['api'], ...(flow ? { flow } : {}) });
  return { ...p, issuer: ISSUER, clientId: 'cli' };
}

describe('chooseFlow (docs/design.md §2)', () => {
  const yes = { ok: true, reason: 'a display is available' };
  const no = { ok: false, reason: 'no display' };
  it.each([
    ['browser', no, false, 'browser'],
    ['device', yes, true, 'device'],
    ['auto', yes, true, 'browser'],
    ['auto', no, true, 'device'],
    ['auto', no, false, 'browser'],
  ] as const)('%s, browser %o, device endpoint %s → %s', (flow, browser, hasDevice, expected) => {
    expect(chooseFlow(flow, browser, hasDevice).flow).toBe(expected);
  });
});

describe('signIn', () => {
  it('device flow: the view gets the user code (never the device code); the credential is stored and returned with the account from userinfo', async () => {
    const calls: string[] = [];
    const { deps, stored } = fakeDeps({}, { respond: provider(calls) });
    const { view, seen } = recordingView();
    const res = await signIn({ profile: profileFor(deps, 'device'), config: { profiles: {} }, launchBrowser: true, timeoutMs: 60_000 }, deps, view);
    expect(res.flow).toBe('device');
    expect(res.credential).toMatchObject({ accessToken: 'AT-new', refreshToken: 'RT-new', account: { email: 'alice@example.com' } });
    expect(stored.default).toEqual(res.credential);
    expect(seen).toEqual([`code ABCD-EFGH at ${ISSUER}/activate`, 'waiting device']);
    expect(JSON.stringify(seen)).not.toContain('DEVICE-CODE-SECRET');
    expect(calls).toEqual(['GET /.well-known/openid-configuration', 'POST /device', 'POST /token', 'GET /me']);
  }, 10_000);

  it('auto mode, the browser fails to launch and the provider has a device flow: the sign-in moves to it', async () => {
    const calls: string[] = [];
    const browser = { open: async () => { throw new Error('no xdg-open'); }, available: () => ({ ok: true, reason: 'a display is available' }) };
    const { deps, stored } = fakeDeps({}, { respond: provider(calls), browser });
    const { view, seen } = recordingView();
    const res = await signIn({ profile: profileFor(deps), config: { profiles: {} }, launchBrowser: true, timeoutMs: 60_000 }, deps, view);
    expect(res.flow).toBe('device');
    expect(stored.default?.accessToken).toBe('AT-new');
    expect(seen[0]).toBe('url /authorize launch=true');
    expect(seen).toContain('browser failed (no xdg-open) switching=true');
    expect(seen.slice(-2)).toEqual([`code ABCD-EFGH at ${ISSUER}/activate`, 'waiting device']);
  }, 10_000);

  it('a provider error stores nothing', async () => {
    const { deps, stored } = fakeDeps({}, { respond: (url) => (url.pathname === '/token' ? json({ error: 'access_denied' }, 400) : provider([])(url, undefined)) });
    await expect(signIn({ profile: profileFor(deps, 'device'), config: { profiles: {} }, launchBrowser: true, timeoutMs: 60_000 }, deps, recordingView().view)).rejects.toBeDefined();
    expect(stored).toEqual({});
  }, 10_000);
});

describe('storeStaticToken and rememberProfile', () => {
  it('a static token is stored without network; a token with a space or newline is refused and nothing is stored', async () => {
    const { deps, fetches, stored } = fakeDeps({});
    const profile = resolveProfile({ profiles: {} }, deps.env, {});
    await expect(storeStaticToken(profile, 'has space', false, deps)).rejects.toMatchObject({ code: 'AUTH_USAGE' });
    expect(stored).toEqual({});
    const cred: Credential = await storeStaticToken(profile, 'ghp_abc123', false, deps);
    expect(cred).toMatchObject({ kind: 'static', accessToken: 'ghp_abc123', issuer: 'static', obtainedAt: NOW });
    expect(stored.default).toEqual(cred);
    expect(fetches).toEqual([]);
  });

  it('rememberProfile writes what was given and makes the first profile active', () => {
    const { deps } = fakeDeps({});
    const profile = { ...profileFor(deps), name: 'work' };
    rememberProfile(deps, profile, { scopes: true, resources: false, clientSecretEnv: 'WORK_SECRET', port: 8765 });
    const config = parse(readFileSync(deps.paths.configFile, 'utf8'));
    expect(config.active).toBe('work');
    expect(config.profiles.work).toMatchObject({ issuer: ISSUER, clientId: 'cli', scopes: ['api'], clientSecretEnv: 'WORK_SECRET', redirect: { port: 8765 } });
  });
});
