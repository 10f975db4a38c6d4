import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { resolvePaths } from '../../src/config/paths.js';
import type { Deps, Logger } from '../../src/deps.js';
import type { Credential } from '../../src/domain/credential.js';
import { AuthError } from '../../src/errors.js';
import type { TokenStore } from '../../src/store/token-store.js';
import { StorageContext } from '../../src/store/context.js';

// Fake ports for the unit tier: a fixed clock, an in-memory store (optionally failing reads),
// a fetch that records every call and never reaches a network, a temp AUTH_HOME.

export const NOW = 1_800_000_000_000;
const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

/** A scripted provider: answers a request from its URL, or undefined for "no network". */
export type Responder = (url: URL, init: RequestInit | undefined) => Response | undefined;

export function fakeDeps(stored: Record<string, Credential>, opts: { unreadable?: boolean; respond?: Responder; browser?: Deps['browser'] } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'auth-unit-'));
  homes.push(home);
  const fetches: string[] = [];
  const logged: string[] = [];
  const log: Logger = { debugEnabled: false, color: false, info: (m) => logged.push(m), success: (m) => logged.push(m), warn: (m) => logged.push(m), error: (m) => logged.push(m), debug: () => undefined };
  const store: TokenStore = {
    kind: 'file',
    describe: (p) => `memory ${p}`,
    get: async (p) => {
      if (opts.unreadable) throw new AuthError('AUTH_STORAGE', `Cannot decrypt the credential of ${p}.`);
      return stored[p];
    },
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
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      fetches.push(String(input));
      const answer = opts.respond?.(new URL(String(input)), init);
      if (answer) return answer;
      throw new Error('no network in the unit tier');
    }) as typeof fetch,
    paths: resolvePaths({ AUTH_HOME: home }, process.platform, home),
    browser: opts.browser ?? { open: async () => undefined, available: () => ({ ok: false, reason: 'unit' }) },
    prompter: { secret: async () => { throw new Error('the unit tier never prompts'); } },
    storage: new StorageContext(),
    log,
    signal: new AbortController().signal,
    openStore: async () => store,
    runChild: async () => ({ spawnError: 'unused' }),
    runCapture: async () => ({ spawnError: 'unused' }),
    authPath: '/usr/local/bin/auth',
    home: '/nonexistent-home',
  };
  return { deps, fetches, logged, stdout, stored };
}

export const cred = (over: Partial<Credential> = {}): Credential => ({
  kind: 'oauth', accessToken: 'AT-1', tokenType: 'Bearer', expiresAt: NOW + 3_600_000, refreshToken: 'RT-1',
  scope: 'openid', issuer: 'https://issuer.example', clientId: 'cli', obtainedAt: NOW - 60_000, ...over,
} as Credential);

