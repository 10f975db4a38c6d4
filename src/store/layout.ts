import { join } from 'node:path';
import type { Paths } from '../config/paths.js';

/**
 * Where `auth` keeps things, in one place: the `auth token` fast path
 * (src/fast/token.ts) and the full CLI both import these names, so the two can
 * never look in different places (docs/architecture.md "How `auth token` flows").
 * Cheap to load on purpose: no native binding, no parser (docs/design.md §7).
 */

/** Keychain service for every secret `auth` stores (docs/design.md §4). */
export const KEYCHAIN_SERVICE = 'authcli';
/** A keychain value that starts with this is a header; the value is stored in parts (store/keychain.ts). */
export const KEYCHAIN_CHUNK_PREFIX = 'authcli-chunked:';
/** Every keychain call is bounded by this: a stuck keyring daemon must not hang a script. */
export const KEYCHAIN_TIMEOUT_MS = 2000;

/**
 * The keychain bound for this invocation: KEYCHAIN_TIMEOUT_MS, or TEST ONLY
 * AUTH_TEST_KEYCHAIN_TIMEOUT_MS (digits, milliseconds). The test suite raises it on a loaded
 * machine, where a slow but working private keyring daemon must not read as a stuck one
 * (docs/architecture.md "Tests"). Not a user setting.
 */
export function keychainTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env.AUTH_TEST_KEYCHAIN_TIMEOUT_MS;
  return raw !== undefined && /^\d{1,7}$/.test(raw) ? Number(raw) : KEYCHAIN_TIMEOUT_MS;
}

/** Keychain account of a profile's credential: the profile name itself. */
export const credentialAccount = (profile: string) => profile;
/** Keychain account of a profile's MFA factor (':' never occurs in a profile name). */
export const mfaAccount = (profile: string) => `mfa:${profile}`;

/** The credential file of a profile (file and encrypted-file stores, and the keychain's fallback). */
export const credentialFile = (paths: Paths, profile: string) => join(paths.credentialsDir, `${profile}.json`);
/** MFA verifier state: its existence is the signal that MFA is on for the profile (mfa/state.ts). */
export const mfaStateFile = (paths: Paths, profile: string) => join(paths.stateDir, 'mfa', `${profile}.json`);
/** Secrets that are not credentials (MFA factors, authenticator seeds) when they are kept in files. */
export const secretsDirectory = (paths: Paths) => join(paths.stateDir, 'secrets');
export const mfaSecretFile = (paths: Paths, profile: string) => join(secretsDirectory(paths), 'mfa', profile);
/** The parsed config.yaml cached as JSON for the fast path (config/config-index.ts). */
export const configIndexFile = (paths: Paths) => join(paths.cacheDir, 'config-index.json');

/**
 * TEST ONLY: AUTH_TEST_NOW_MS (epoch milliseconds) freezes the clock, in the full CLI
 * (system.ts) and in the fast path alike, so tests can place TOTP codes, unlock windows,
 * lockouts and token expiry at exact times. Not a user setting.
 */
export function testClockMs(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.AUTH_TEST_NOW_MS;
  if (raw === undefined || !/^\d{1,16}$/.test(raw)) return undefined;
  return Number(raw);
}
