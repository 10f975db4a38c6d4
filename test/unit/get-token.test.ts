import { describe, expect, it } from 'vitest';
import { getToken } from '../../src/app/get-token.js';
import { cred, fakeDeps, NOW } from './fake-deps.js';

// The get-token use case (src/app/get-token.ts) in process, with fake ports: a fixed clock, an
// in-memory store, a fetch that records every call. A valid or --no-refresh answer must never
// reach the network; what it returns is data, and nothing is printed.

describe('getToken', () => {
  it('a valid token: returned as data, no network, nothing printed', async () => {
    const { deps, fetches, stdout } = fakeDeps({ default: cred() });
    const res = await getToken({ guarded: true }, deps);
    expect(res).toMatchObject({ refreshed: false, credential: { accessToken: 'AT-1' }, profile: { name: 'default' } });
    expect(fetches).toEqual([]);
    expect(stdout.read()).toBeNull();
  });

  it('the profile comes from the request, not from a faked AUTH_PROFILE', async () => {
    const { deps } = fakeDeps({ work: cred({ accessToken: 'AT-work' }) });
    expect((await getToken({ guarded: true, profile: 'work' }, deps)).credential.accessToken).toBe('AT-work');
    expect(deps.env.AUTH_PROFILE).toBeUndefined();
  });

  it('not logged in: AUTH_NOT_LOGGED_IN naming the profile', async () => {
    const { deps } = fakeDeps({});
    await expect(getToken({ guarded: true, profile: 'nobody' }, deps)).rejects.toMatchObject({ code: 'AUTH_NOT_LOGGED_IN', message: expect.stringContaining('nobody') });
  });

  it('expired with --no-refresh: refused without contacting the provider', async () => {
    const { deps, fetches } = fakeDeps({ default: cred({ expiresAt: NOW - 1 }) });
    await expect(getToken({ guarded: true, noRefresh: true }, deps)).rejects.toMatchObject({ code: 'AUTH_NOT_LOGGED_IN', message: expect.stringContaining('--no-refresh') });
    expect(fetches).toEqual([]);
  });

  it('expired without a refresh token: refused, no network', async () => {
    const { deps, fetches } = fakeDeps({ default: cred({ expiresAt: NOW - 1, refreshToken: undefined }) });
    await expect(getToken({ guarded: true }, deps)).rejects.toMatchObject({ code: 'AUTH_NOT_LOGGED_IN', message: expect.stringContaining('no refresh token') });
    expect(fetches).toEqual([]);
  });

  it('--id-token on a credential without one, and with an expired one under --no-refresh', async () => {
    const none = fakeDeps({ default: cred() });
    await expect(getToken({ guarded: true, idToken: true }, none.deps)).rejects.toMatchObject({ code: 'AUTH_NOT_LOGGED_IN', message: expect.stringContaining('no ID token') });
    const payload = Buffer.from(JSON.stringify({ exp: NOW / 1000 - 10 })).toString('base64url');
    const old = fakeDeps({ default: cred({ idToken: `e30.${payload}.sig` }) });
    await expect(getToken({ guarded: true, idToken: true, noRefresh: true }, old.deps)).rejects.toMatchObject({ message: expect.stringContaining('ID token has expired') });
    expect(old.fetches).toEqual([]);
  });

  it('a token due for refresh goes to the provider (here: a network that fails), and the stored credential is kept', async () => {
    const { deps, fetches, stored } = fakeDeps({ default: cred({ expiresAt: NOW + 10_000 }) });
    await expect(getToken({ guarded: true }, deps)).rejects.toBeDefined();
    expect(fetches.length).toBeGreaterThan(0);
    expect(stored.default?.refreshToken).toBe('RT-1');
  });
});
