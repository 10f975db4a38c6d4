import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkProvider, derivedSecretEnv, issuerConflict, profileFromDraft, saveDraft, type SetupDraft } from '../../src/app/setup.js';
import { describeServer } from '../../src/providers/resolve.js';
import { findPreset } from '../../src/providers/presets.js';
import { fakeDeps } from './fake-deps.js';

// The setup use cases (src/app/setup.ts) in process: what the wizard's answers become, the
// provider check as data (a scripted provider behind the fetch port), and the save.

const oidc = findPreset('oidc')!;
const oauth2 = findPreset('oauth2')!;
const draft = (over: Partial<SetupDraft> = {}): SetupDraft => ({
  presetId: 'oidc', values: { issuer: 'https://login.example' }, clientId: 'cli', secret: 'none', scopes: ['openid', 'email'],
  resources: [], flow: 'auto', storage: 'file', name: 'work', ...over,
});
const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });

describe('profileFromDraft', () => {
  it('an OIDC draft: issuer from the fields, no endpoints; a stored secret is named by its derived variable', () => {
    const p = profileFromDraft(draft({ secret: 'store', secretValue: 'S3CRET' }), oidc, undefined);
    expect(p).toMatchObject({ provider: 'oidc', issuer: 'https://login.example', clientId: 'cli', clientSecretEnv: 'AUTH_CLIENT_SECRET_WORK', flow: 'auto', storage: 'file' });
    expect(p.endpoints).toBeUndefined();
    expect(JSON.stringify(p)).not.toContain('S3CRET');
    expect(derivedSecretEnv('my-team.prod')).toBe('AUTH_CLIENT_SECRET_MY_TEAM_PROD');
  });

  it('a custom OAuth 2 draft keeps the endpoints it was given; switching preset drops the old endpoints', () => {
    const values = { authorization: 'https://as.example/auth', token: 'https://as.example/token', issuer: 'https://as.example' };
    const p = profileFromDraft(draft({ presetId: 'oauth2', values, scopes: [] }), oauth2, undefined);
    expect(p.endpoints).toEqual({ authorization: 'https://as.example/auth', token: 'https://as.example/token' });
    expect(profileFromDraft(draft(), oidc, p).endpoints).toBeUndefined();
  });

  it('the default storage writes no `storage:` (keychain with its file fallback); a choice pins it; editing back to the default removes it', () => {
    expect(profileFromDraft(draft({ storage: undefined }), oidc, undefined)).not.toHaveProperty('storage');
    const pinned = profileFromDraft(draft({ storage: 'keychain' }), oidc, undefined);
    expect(pinned.storage).toBe('keychain');
    expect(profileFromDraft(draft({ storage: undefined }), oidc, pinned)).not.toHaveProperty('storage');
  });
});

describe('checkProvider', () => {
  it('a provider with discovery: ok, with what it supports; discovering is announced first', async () => {
    const announced: string[] = [];
    const { deps } = fakeDeps({}, {
      respond: (url) => url.pathname === '/.well-known/openid-configuration'
        ? json({ issuer: 'https://login.example', authorization_endpoint: 'https://login.example/a', token_endpoint: 'https://login.example/t', revocation_endpoint: 'https://login.example/r' })
        : undefined,
    });
    const res = await checkProvider(draft(), oidc, { profiles: {} }, undefined, deps, (i) => announced.push(i));
    expect(res).toEqual({ ok: true, issuer: 'https://login.example', fromProfile: false, device: false, revocation: true });
    expect(announced).toEqual(['https://login.example']);
  });

  it('a provider that cannot be reached: a failed check as data, naming the issuer', async () => {
    const { deps } = fakeDeps({});
    const res = await checkProvider(draft(), oidc, { profiles: {} }, undefined, deps, () => undefined);
    expect(res).toMatchObject({ ok: false, issuer: 'https://login.example', reason: expect.any(String), saveAnyway: true });
  });
});

describe('saveDraft', () => {
  it('writes the profile and the active choice; the typed secret goes to the store, not the config', async () => {
    const { deps } = fakeDeps({});
    await saveDraft(draft({ secret: 'store', secretValue: 'S3CRET' }), oidc, { profiles: {} }, true, deps);
    const text = readFileSync(deps.paths.configFile, 'utf8');
    expect(text).not.toContain('S3CRET');
    expect(parse(text)).toMatchObject({ active: 'work', profiles: { work: { issuer: 'https://login.example', clientSecretEnv: 'AUTH_CLIENT_SECRET_WORK' } } });
  });
});

describe('one issuer, one server (docs/security.md R06)', () => {
  const custom = (over: Partial<SetupDraft> = {}) => draft({ presetId: 'oauth2', name: 'api', values: { authorization: 'https://login.example/auth', token: 'https://login.example/token', issuer: 'https://login.example' }, scopes: [], ...over });
  const loginMade = { profiles: { work: { issuer: 'https://login.example', clientId: 'cli' } } };

  it('a custom OAuth 2 draft on the issuer of a profile made by `auth login --issuer` is refused: by the check (no "save anyway") and by the save', async () => {
    expect(issuerConflict(custom(), oauth2, loginMade)?.message).toMatch(/Profiles api and work use the same issuer https:\/\/login\.example/);
    const { deps, fetches } = fakeDeps({});
    const check = await checkProvider(custom(), oauth2, loginMade, undefined, deps, () => undefined);
    expect(check).toMatchObject({ ok: false, saveAnyway: false, reason: expect.stringContaining('same issuer') });
    expect(fetches).toEqual([]);
    await expect(saveDraft(custom(), oauth2, loginMade, true, deps)).rejects.toMatchObject({ code: 'AUTH_CONFIG_INVALID' });
    expect(() => readFileSync(deps.paths.configFile)).toThrow();
  });

  it("a hand-edited config with both: the login-made profile never gets the custom profile's endpoints", () => {
    const config = { profiles: { ...loginMade.profiles, api: profileFromDraft(custom(), oauth2, undefined) } };
    expect(() => describeServer('https://login.example', config)).toThrow(/same issuer/);
  });

  it('a preset that describes the server (GitHub) still lends its endpoints to a profile on the same issuer; another OIDC draft on a new issuer is fine', () => {
    const gh = { profiles: { gh: { provider: 'github' as const, issuer: 'https://github.com', clientId: 'a' }, other: { issuer: 'https://github.com', clientId: 'b' } } };
    expect(describeServer('https://github.com', gh).metadata?.token_endpoint).toBe('https://github.com/login/oauth/access_token');
    expect(issuerConflict(draft({ values: { issuer: 'https://other.example' } }), oidc, loginMade)).toBeUndefined();
    expect(issuerConflict(draft({ name: 'work2' }), oidc, loginMade)).toBeUndefined();
  });
});
