import { describe, expect, it } from 'vitest';
import { signOut } from '../../src/app/sign-out.js';
import { resolveProfile } from '../../src/config/resolve.js';
import { cred, fakeDeps } from './fake-deps.js';

// The sign-out use case (src/app/sign-out.ts) returns what happened as data; `auth logout`
// renders it and takes its exit code from `kind`. Here without a provider: the cases that
// must never reach one.

const profile = (name = 'default') => resolveProfile({ profiles: {} }, {}, { profile: name });
const config = { profiles: {} };

describe('signOut', () => {
  it('nothing stored: not-logged-in, nothing fetched', async () => {
    const { deps, fetches } = fakeDeps({});
    expect(await signOut(profile(), config, { revoke: true, force: false }, deps)).toEqual({ kind: 'not-logged-in' });
    expect(fetches).toEqual([]);
  });

  it('--no-revoke: removed locally without contacting the provider', async () => {
    const { deps, fetches, stored } = fakeDeps({ default: cred() });
    expect(await signOut(profile(), config, { revoke: false, force: false }, deps)).toEqual({ kind: 'removed', why: 'revocation skipped' });
    expect(stored.default).toBeUndefined();
    expect(fetches).toEqual([]);
  });

  it('a static token is removed, never revoked', async () => {
    const { deps, fetches, stored } = fakeDeps({ default: cred({ kind: 'static' }) });
    expect(await signOut(profile(), config, { revoke: true, force: false }, deps)).toEqual({ kind: 'removed', why: 'static token' });
    expect(stored.default).toBeUndefined();
    expect(fetches).toEqual([]);
  });

  it('an unreadable credential is kept (exit 1 error) unless forced; forced, it is removed unrevoked', async () => {
    const kept = fakeDeps({ default: cred() }, { unreadable: true });
    await expect(signOut(profile(), config, { revoke: true, force: false }, kept.deps)).rejects.toMatchObject({ exitCode: 1, message: expect.stringContaining('neither revoked nor removed') });
    expect(kept.stored.default).toBeDefined();
    const forced = fakeDeps({ default: cred() }, { unreadable: true });
    expect(await signOut(profile(), config, { revoke: true, force: true }, forced.deps)).toMatchObject({ kind: 'unreadable-removed' });
    expect(forced.stored.default).toBeUndefined();
    expect(forced.fetches).toEqual([]);
  });

  it('a provider that cannot be reached: revocation-failed, and the local copy is gone all the same', async () => {
    const { deps, fetches, stored } = fakeDeps({ default: cred() });
    const res = await signOut(profile(), config, { revoke: true, force: false }, deps);
    expect(res.kind).toBe('revocation-failed');
    expect(fetches.length).toBeGreaterThan(0);
    expect(stored.default).toBeUndefined();
  });
});
