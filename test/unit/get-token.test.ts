import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { getToken } from '../../src/app/get-token.js';
import { resolvePaths } from '../../src/config/paths.js';
import type { Deps, Logger } from '../../src/deps.js';
import type { Credential } from '../../src/domain/credential.js';
import type { TokenStore } from '../../src/store/token-store.js';
import { StorageContext } from '../../src/store/context.js';

// The get-token use case (src/app/get-token.ts) in process, with fake ports: a fixed clock, an
// in-memory store, a fetch that records every call. A valid or --no-refresh answer must never
// reach the network; what it returns is data, and nothing is printed.

const NOW = 1_800_000_000_000;
const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

function fakeDeps(stored: Record<string, Credential>) {
  const home = mkdtempSync(join(tmpdir(), 'auth-unit-'));
  homes.push(home);
  const fetches: string[] = [];
  const logged: string[] = [];
  const log: Logger = { debugEnabled: false, color: false, info: (m) => logged.push(m), success: (m) => logged.push(m), warn: (m) => logged.push(m), error: (m) => logged.push(m), debug: () => undefined };
  const store: TokenStore = {
    kind: 'file',
    describe: (p) => `memory ${p}`,
    get: async (p) => stored[p],
    set: async (p, c) => void (stored[p] = c),
    delete: async (p) => delete stored[p],
  };
  const stdout = new PassThrough();
  const deps: Deps = {
    io: { stdout, stderr: new PassThrough(), stdin: new PassThrough(), stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false },
    env: { AUTH_STORAGE: 'file' },
    platform: process.platform,
    hostname: 'unit',
    clock: { now: () => NOW },
    fetch: (async (input: string | URL | Request) => {
      fetches.push(String(input));
      throw new Error('no network in the unit tier');
    }) as typeof fetch,
    paths: resolvePaths({ AUTH_HOME: home }, process.platform, home),
    browser: { open: async () => undefined, available: () => ({ ok: false, reason: 'unit' }) },
    prompter: { secret: async () => { throw new Error('the unit tier never prompts'); } },
    storage: new StorageContext(),
    log,
    signal: new AbortController().signal,
    openStore: async () => store,
    runChild: async () => ({ spawnError: 'unused' }),
  };
  return { deps, fetches, logged, stdout, stored };
}

const cred = (over: Partial<Credential> = {}): Credential => ({
  kind: 'oauth', accessToken: 'AT-1', tokenType: 'Bearer', expiresAt: NOW + 3_600_000, refreshToken: 'RT-1',
  scope: 'openid', issuer: 'https://issuer.example', clientId: 'cli', obtainedAt: NOW - 60_000, ...over,
} as Credential);

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
