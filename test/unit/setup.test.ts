import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkProvider, derivedSecretEnv, profileFromDraft, saveDraft, type SetupDraft } from '../../src/app/setup.js';
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
    const res = await checkProvider(draft(), oidc, undefined, deps, (i) => announced.push(i));
    expect(res).toEqual({ ok: true, issuer: 'https://login.example', fromProfile: false, device: false, revocation: true });
    expect(announced).toEqual(['https://login.example']);
  });

  it('a provider that cannot be reached: a failed check as data, naming the issuer', async () => {
    const { deps } = fakeDeps({});
    const res = await checkProvider(draft(), oidc, undefined, deps, () => undefined);
    expect(res).toMatchObject({ ok: false, issuer: 'https://login.example', reason: expect.any(String) });
  });
});

describe('saveDraft', () => {
  it('writes the profile and the active choice; the typed secret goes to the store, not the config', async () => {
    const { deps } = fakeDeps({});
    await saveDraft(draft({ secret: 'store', secretValue: 'S3CRET' }), oidc, true, deps);
    const text = readFileSync(deps.paths.configFile, 'utf8');
    expect(text).not.toContain('S3CRET');
    expect(parse(text)).toMatchObject({ active: 'work', profiles: { work: { issuer: 'https://login.example', clientSecretEnv: 'AUTH_CLIENT_SECRET_WORK' } } });
  });
});
