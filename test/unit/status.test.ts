import { describe, expect, it } from 'vitest';
import { profileStatuses } from '../../src/app/status.js';
import { cred, fakeDeps, NOW } from './fake-deps.js';

// The status use case (src/app/status.ts) returns rows as data; `auth status` renders them and
// takes its exit code from them. Read-only: it never reaches the provider.

describe('profileStatuses', () => {
  it('a valid credential: logged in, usable, its expiry as ISO time', async () => {
    const { deps, fetches } = fakeDeps({ default: cred({ account: { email: 'a@example.com' } }) });
    const { rows, unreadable } = await profileStatuses({}, deps);
    expect(unreadable).toBe(false);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'default', loggedIn: true, usable: true, refreshable: true, account: 'a@example.com', expiresAt: new Date(NOW + 3_600_000).toISOString(), mfa: 'off' });
    expect(fetches).toEqual([]);
  });

  it('expired without a refresh token: logged in but not usable, with the reason', async () => {
    const { deps } = fakeDeps({ default: cred({ expiresAt: NOW - 1, refreshToken: undefined }) });
    const { rows } = await profileStatuses({}, deps);
    expect(rows[0]).toMatchObject({ loggedIn: true, usable: false, refreshable: false, problem: expect.stringContaining('expired') });
  });

  it('nothing stored: not logged in (a login is needed, not a failure)', async () => {
    const { deps } = fakeDeps({});
    const { rows, unreadable } = await profileStatuses({ profile: 'work' }, deps);
    expect(unreadable).toBe(false);
    expect(rows[0]).toMatchObject({ name: 'work', loggedIn: false, usable: false });
  });

  it('an unreadable credential is reported as unreadable, never as logged out', async () => {
    const { deps } = fakeDeps({ default: cred() }, { unreadable: true });
    const { rows, unreadable } = await profileStatuses({}, deps);
    expect(unreadable).toBe(true);
    expect(rows[0]).toMatchObject({ loggedIn: false, problem: expect.stringContaining('Cannot decrypt') });
  });
});
