import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRESETS, findPreset, ENTRA_MSA_TENANT, type PresetId } from '../src/providers/presets.js';
import {
  checkDiscoveredIssuer, describeProfile, describeServer, issuerFor, presetMetadata, presetOwning, valuesFromIssuer, wrapFetch,
} from '../src/providers/resolve.js';
import { makeHome, ROOT } from './support/cli.js';
import { loadConfig } from '../src/config/config.js';

// Presets are data: for the answers a user gives, each one must yield the issuer
// and the server metadata its provider documents. The expected values below are
// copied from the providers' documentation, not computed from the presets.
const metadataOf = (id: PresetId, values: Record<string, string>) => {
  const preset = findPreset(id)!;
  const issuer = issuerFor(preset, values);
  return presetMetadata(preset, values, issuer);
};
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

describe('provider presets yield the documented server metadata', () => {
  it('GitHub.com: OAuth app endpoints, device flow, REST /user, no discovery, no revocation', () => {
    const m = metadataOf('github', { baseUrl: 'https://github.com' });
    expect(m).toMatchObject({
      issuer: 'https://github.com',
      authorization_endpoint: 'https://github.com/login/oauth/authorize',
      token_endpoint: 'https://github.com/login/oauth/access_token',
      device_authorization_endpoint: 'https://github.com/login/device/code',
      userinfo_endpoint: 'https://api.github.com/user',
      code_challenge_methods_supported: ['S256'],
    });
    expect(m.revocation_endpoint).toBeUndefined();
    expect(m.jwks_uri).toBeUndefined();
    expect(findPreset('github')).toMatchObject({ discovery: false, quirks: 'github', tokenEndpointAuth: 'client_secret_post', flow: 'device' });
  });

  it('GitHub Enterprise Server: same paths on the server, REST API under /api/v3', () => {
    const m = metadataOf('github', { baseUrl: 'https://ghe.example.com' });
    expect(m.authorization_endpoint).toBe('https://ghe.example.com/login/oauth/authorize');
    expect(m.userinfo_endpoint).toBe('https://ghe.example.com/api/v3/user');
  });

  it('Google: accounts.google.com discovery, device and revocation endpoints, installed-app secret', () => {
    expect(metadataOf('google', {})).toMatchObject({
      issuer: 'https://accounts.google.com',
      authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
      token_endpoint: 'https://oauth2.googleapis.com/token',
      device_authorization_endpoint: 'https://oauth2.googleapis.com/device/code',
      revocation_endpoint: 'https://oauth2.googleapis.com/revoke',
      userinfo_endpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
      jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs',
    });
    const google = findPreset('google')!;
    expect(google).toMatchObject({ discovery: true, clientSecret: 'required' });
    // Google rejects offline_access; installed apps get refresh tokens without it.
    expect(google.scopes).toEqual(['openid', 'email', 'profile']);
  });

  it('Microsoft Entra ID: v2.0 endpoints of the tenant, device code, no revocation endpoint', () => {
    const m = metadataOf('entra', { tenant: TENANT });
    expect(m).toMatchObject({
      issuer: `https://login.microsoftonline.com/${TENANT}/v2.0`,
      authorization_endpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/authorize`,
      token_endpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
      device_authorization_endpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/devicecode`,
      jwks_uri: `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`,
      userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
    });
    expect(m.revocation_endpoint).toBeUndefined();
    expect(issuerFor(findPreset('entra')!, { tenant: 'organizations' })).toBe('https://login.microsoftonline.com/organizations/v2.0');
  });

  it('GitLab: gitlab.com and a self-managed instance under a relative URL root', () => {
    expect(metadataOf('gitlab', { baseUrl: 'https://gitlab.com' })).toMatchObject({
      issuer: 'https://gitlab.com',
      authorization_endpoint: 'https://gitlab.com/oauth/authorize',
      token_endpoint: 'https://gitlab.com/oauth/token',
      device_authorization_endpoint: 'https://gitlab.com/oauth/authorize_device',
      revocation_endpoint: 'https://gitlab.com/oauth/revoke',
      userinfo_endpoint: 'https://gitlab.com/oauth/userinfo',
      jwks_uri: 'https://gitlab.com/oauth/discovery/keys',
    });
    const self = metadataOf('gitlab', { baseUrl: 'https://code.example.com/gitlab' });
    expect(self.issuer).toBe('https://code.example.com/gitlab');
    expect(self.token_endpoint).toBe('https://code.example.com/gitlab/oauth/token');
  });

  it('Okta: custom authorization server (default) and the org authorization server', () => {
    expect(metadataOf('okta', { domain: 'dev-123456.okta.com', authServer: 'default' })).toMatchObject({
      issuer: 'https://dev-123456.okta.com/oauth2/default',
      authorization_endpoint: 'https://dev-123456.okta.com/oauth2/default/v1/authorize',
      token_endpoint: 'https://dev-123456.okta.com/oauth2/default/v1/token',
      device_authorization_endpoint: 'https://dev-123456.okta.com/oauth2/default/v1/device/authorize',
      revocation_endpoint: 'https://dev-123456.okta.com/oauth2/default/v1/revoke',
      jwks_uri: 'https://dev-123456.okta.com/oauth2/default/v1/keys',
    });
    const org = metadataOf('okta', { domain: 'dev-123456.okta.com', authServer: '' });
    expect(org.issuer).toBe('https://dev-123456.okta.com');
    expect(org.authorization_endpoint).toBe('https://dev-123456.okta.com/oauth2/v1/authorize');
  });

  it('Auth0: issuer with its trailing slash, /oauth endpoints', () => {
    expect(metadataOf('auth0', { domain: 'acme.eu.auth0.com' })).toMatchObject({
      issuer: 'https://acme.eu.auth0.com/',
      authorization_endpoint: 'https://acme.eu.auth0.com/authorize',
      token_endpoint: 'https://acme.eu.auth0.com/oauth/token',
      device_authorization_endpoint: 'https://acme.eu.auth0.com/oauth/device/code',
      revocation_endpoint: 'https://acme.eu.auth0.com/oauth/revoke',
      userinfo_endpoint: 'https://acme.eu.auth0.com/userinfo',
      jwks_uri: 'https://acme.eu.auth0.com/.well-known/jwks.json',
    });
  });

  it('Keycloak: domain + realm → issuer, protocol/openid-connect endpoints', () => {
    expect(metadataOf('keycloak', { baseUrl: 'https://sso.example.com', realm: 'acme' })).toMatchObject({
      issuer: 'https://sso.example.com/realms/acme',
      authorization_endpoint: 'https://sso.example.com/realms/acme/protocol/openid-connect/auth',
      token_endpoint: 'https://sso.example.com/realms/acme/protocol/openid-connect/token',
      device_authorization_endpoint: 'https://sso.example.com/realms/acme/protocol/openid-connect/auth/device',
      revocation_endpoint: 'https://sso.example.com/realms/acme/protocol/openid-connect/revoke',
      userinfo_endpoint: 'https://sso.example.com/realms/acme/protocol/openid-connect/userinfo',
      jwks_uri: 'https://sso.example.com/realms/acme/protocol/openid-connect/certs',
    });
  });

  it('generic OpenID Connect keeps the issuer byte for byte; custom OAuth 2 takes the endpoints given', () => {
    expect(issuerFor(findPreset('oidc')!, { issuer: 'https://login.example.com/tenant/' })).toBe('https://login.example.com/tenant/');
    const custom = describeProfile({
      provider: 'oauth2', issuer: 'https://auth.example.com',
      endpoints: { authorization: 'https://auth.example.com/oauth/authorize', token: 'https://auth.example.com/oauth/token' },
    });
    expect(custom.metadata).toMatchObject({ issuer: 'https://auth.example.com', authorization_endpoint: 'https://auth.example.com/oauth/authorize', token_endpoint: 'https://auth.example.com/oauth/token' });
    expect(custom.metadata!.device_authorization_endpoint).toBeUndefined();
  });

  it('every preset has defaults: a flow, a loopback redirect on 127.0.0.1, scopes (but custom OAuth 2), and registration notes', () => {
    expect(PRESETS.map((p) => p.id)).toEqual(['github', 'google', 'entra', 'gitlab', 'okta', 'auth0', 'keycloak', 'oidc', 'oauth2']);
    for (const p of PRESETS) {
      expect(p.redirect.host, p.id).toBe('127.0.0.1');
      expect(p.redirect.path, p.id).toBe('/callback');
      expect(['auto', 'browser', 'device'], p.id).toContain(p.flow);
      if (p.id !== 'oauth2') expect(p.scopes.length, p.id).toBeGreaterThan(0);
      expect(p.register.console, p.id).toBeTruthy();
      for (const t of Object.values(p.endpoints)) expect(t, p.id).toMatch(/^(https:\/\/|\{)/);
    }
    // Providers that match redirect URIs exactly get one fixed port to register.
    for (const id of ['okta', 'auth0', 'keycloak', 'gitlab'] as const) expect(findPreset(id)!.redirect.port, id).toBe(8250);
    for (const id of ['github', 'google', 'entra', 'oidc'] as const) expect(findPreset(id)!.redirect.port, id).toBe(0);
  });

  it('re-running setup recovers the answers from a saved issuer', () => {
    const cases: Array<[PresetId, Record<string, string>]> = [
      ['github', { baseUrl: 'https://ghe.example.com' }],
      ['entra', { tenant: TENANT }],
      ['gitlab', { baseUrl: 'https://code.example.com/gitlab' }],
      ['okta', { domain: 'dev-1.okta.com', authServer: 'aus1abc' }],
      ['auth0', { domain: 'acme.us.auth0.com' }],
      ['keycloak', { baseUrl: 'https://sso.example.com/auth', realm: 'acme' }],
      ['oidc', { issuer: 'https://login.example.com/' }],
    ];
    for (const [id, values] of cases) {
      const preset = findPreset(id)!;
      expect(valuesFromIssuer(preset, issuerFor(preset, values)), id).toEqual(values);
    }
    expect(valuesFromIssuer(findPreset('okta')!, 'https://dev-1.okta.com')).toEqual({ domain: 'dev-1.okta.com' });
  });
});

describe('connecting through a preset', () => {
  it('GitHub is described with explicit metadata and its quirk adapter; Google with discovery', () => {
    const gh = describeProfile({ provider: 'github', issuer: 'https://github.com' });
    expect(gh.metadata?.token_endpoint).toBe('https://github.com/login/oauth/access_token');
    expect(gh.quirks).toBe('github');
    expect(gh.tokenEndpointAuth).toBe('client_secret_post');
    const google = describeProfile({ provider: 'google', issuer: 'https://accounts.google.com' });
    expect(google.metadata).toBeUndefined();
    // A profile's endpoints override the preset's (how tests point GitHub at a fixture).
    const local = describeProfile({ provider: 'github', issuer: 'https://github.com', endpoints: { userinfo: 'http://127.0.0.1:9/user' } });
    expect(local.metadata?.userinfo_endpoint).toBe('http://127.0.0.1:9/user');
    expect(local.metadata?.authorization_endpoint).toBe('https://github.com/login/oauth/authorize');
  });

  it('an unknown provider name in the config is a config error naming the presets', () => {
    expect(() => describeProfile({ provider: 'gitbucket', issuer: 'https://x.example.com' })).toThrow(/Unknown provider "gitbucket"[\s\S]*/);
  });

  it('issuers owned by a preset work from flags alone (auth login --issuer https://github.com)', () => {
    expect(presetOwning('https://github.com')?.id).toBe('github');
    expect(presetOwning('https://accounts.google.com')?.id).toBe('google');
    expect(presetOwning(`https://login.microsoftonline.com/${TENANT}/v2.0`)?.id).toBe('entra');
    expect(presetOwning('https://gitlab.com')?.id).toBe('gitlab');
    expect(presetOwning('https://ghe.example.com')).toBeUndefined();
    expect(presetOwning('https://login.example.com')).toBeUndefined();
  });

  describe('Entra ID issuer quirk without weakening R01', () => {
    it('a real tenant must discover exactly its own issuer', () => {
      const d = describeProfile({ provider: 'entra', issuer: `https://login.microsoftonline.com/${TENANT}/v2.0` });
      expect(d.acceptIssuer).toBeUndefined();
      expect(() => checkDiscoveredIssuer(d.issuer, `https://login.microsoftonline.com/${TENANT}/v2.0`, d.acceptIssuer)).not.toThrow();
      // openid-client lets any login.microsoftonline.com issuer through; we do not (R01).
      expect(() => checkDiscoveredIssuer(d.issuer, 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0', d.acceptIssuer)).toThrow(/different issuer/);
      expect(() => checkDiscoveredIssuer(d.issuer, 'https://login.microsoftonline.com/{tenantid}/v2.0', d.acceptIssuer)).toThrow(/different issuer/);
    });

    it('common / organizations accept only the {tenantid} template; consumers only the personal-accounts tenant', () => {
      for (const t of ['common', 'organizations']) {
        const d = describeProfile({ provider: 'entra', issuer: `https://login.microsoftonline.com/${t}/v2.0` });
        expect(d.acceptIssuer).toBe('https://login.microsoftonline.com/{tenantid}/v2.0');
        expect(() => checkDiscoveredIssuer(d.issuer, d.acceptIssuer!, d.acceptIssuer)).not.toThrow();
        expect(() => checkDiscoveredIssuer(d.issuer, `https://login.microsoftonline.com/${TENANT}/v2.0`, d.acceptIssuer)).toThrow(/different issuer/);
      }
      const c = describeProfile({ provider: 'entra', issuer: 'https://login.microsoftonline.com/consumers/v2.0' });
      expect(c.acceptIssuer).toBe(`https://login.microsoftonline.com/${ENTRA_MSA_TENANT}/v2.0`);
    });

    it('any other provider: exact comparison, a trailing slash is a different issuer (R01)', () => {
      expect(() => checkDiscoveredIssuer('https://login.example.com', 'https://login.example.com/', undefined)).toThrow(/different issuer/);
    });
  });

  it('R06: two profiles may not point the same issuer at different endpoints', () => {
    const { home, cleanup } = makeHome('auth-presets-');
    try {
      writeFileSync(join(home, 'config.yaml'), [
        'profiles:',
        '  a: { provider: github, issuer: "https://github.com", clientId: x }',
        '  b: { provider: oauth2, issuer: "https://github.com", clientId: y, endpoints: { authorization: "https://evil.example/a", token: "https://evil.example/t" } }',
        '',
      ].join('\n'));
      const config = () => loadConfig(join(home, 'config.yaml'));
      expect(() => describeServer('https://github.com', config())).toThrow(/same issuer https:\/\/github.com .*R06/);
      writeFileSync(join(home, 'config.yaml'), 'profiles:\n  a: { provider: github, issuer: "https://github.com", clientId: x }\n  c: { issuer: "https://github.com", clientId: z }\n');
      expect(describeServer('https://github.com', config()).quirks).toBe('github');
    } finally {
      cleanup();
    }
  });

  it('GitHub quirk adapter: form body and HTTP 200 errors become RFC 6749 §5.2 responses', async () => {
    const metadata = describeProfile({ provider: 'github', issuer: 'https://github.com' }).metadata!;
    const answer = (body: string, type: string) => async () => new Response(body, { status: 200, headers: { 'content-type': type } });
    const call = (body: string, type: string) =>
      wrapFetch({ issuer: 'https://github.com', quirks: 'github', tokenEndpointAuth: 'client_secret_post' }, metadata, answer(body, type))(metadata.token_endpoint!, { method: 'POST', headers: {} });
    const slow = await call('error=slow_down&error_description=Too+many+requests&interval=10', 'application/x-www-form-urlencoded');
    expect(slow.status).toBe(400);
    expect(await slow.json()).toMatchObject({ error: 'slow_down', interval: 10 });
    const bad = await call(JSON.stringify({ error: 'incorrect_client_credentials', error_description: 'nope' }), 'application/json');
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: 'invalid_client', error_description: 'nope (GitHub: incorrect_client_credentials)' });
    const ok = await call('access_token=gho_x&scope=repo%2Cgist&token_type=bearer', 'application/x-www-form-urlencoded; charset=utf-8');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ access_token: 'gho_x', scope: 'repo gist', token_type: 'bearer' });
  });
});

describe('docs/providers.md', () => {
  it('documents every preset with its redirect URI and the exact setup / login lines', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'providers.md'), 'utf8');
    for (const p of PRESETS) {
      expect(doc, p.id).toContain(`## ${p.title}`);
      expect(doc, p.id).toContain(`provider: ${p.id}`);
    }
    expect(doc).toContain('auth setup');
    expect(doc).toContain('http://127.0.0.1/callback');
    expect(doc).toContain('http://127.0.0.1:8250/callback');
  });
});
