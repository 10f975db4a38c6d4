import type { Deps } from '../deps.js';
import { authCommand, AuthError } from '../errors.js';
import { acquireLock } from '../store/lock.js';
import { readTrustedFile, removeFile, writePrivateFileAtomic } from '../store/fs-safe.js';
import { mfaAccount, mfaStateFile } from '../store/layout.js';
import { isBackupCodeSet, type BackupCodeSet } from './backup-codes.js';
import { ALGORITHMS, type TotpParams } from './totp.js';
import { parseState, type MfaState } from '../domain/mfa-state.js';

export {  type MfaState };

/**
 * Per-profile MFA bookkeeping, split in two (docs/security.md R98):
 * - the factor (`FactorRecord`: TOTP secret + backup-code hashes) in the secret
 *   store, account `mfa:<profile>`;
 * - the verifier state (`MfaState`: replay step, failures, lockout, unlock
 *   window) in `<state>/mfa/<profile>.json`, 0600, written atomically, changed
 *   only under the lock `<profile>@mfa` ('@' never occurs in a profile name, so
 *   it cannot contend with the refresh lock).
 * The state file existing is THE cheap signal that MFA is on for a profile
 * (the `auth token` fast path checks exactly that). If it is missing, corrupt,
 * or belongs to an older secret while a secret exists, the factor is treated
 * as locked and only a backup code opens it — never as reset.
 */
export const LOCKOUT_FAILURES = 3;
export const LOCKOUT_MS = 15 * 60_000;

export interface FactorRecord extends TotpParams {
  v: 1;
  /** Random id tying the state file to this secret. */
  id: string;
  createdAt: number;
  backup: BackupCodeSet;
}


export { mfaAccount };
export const mfaStatePath = (deps: Deps, profile: string) => mfaStateFile(deps.paths, profile);

export type LoadedState = { kind: 'missing' } | { kind: 'corrupt' } | { kind: 'ok'; state: MfaState };

const isInt = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n);

export function loadState(deps: Deps, profile: string): LoadedState {
  let buf: Buffer | undefined;
  try {
    // A state file another user could write (to reset the failure count) counts as corrupt: fail closed.
    buf = readTrustedFile(mfaStatePath(deps, profile));
  } catch {
    return { kind: 'corrupt' };
  }
  if (!buf) return { kind: 'missing' };
  const state = parseState(buf.toString('utf8'));
  return state ? { kind: 'ok', state } : { kind: 'corrupt' };
}

export function saveState(deps: Deps, profile: string, state: MfaState): void {
  writePrivateFileAtomic(mfaStatePath(deps, profile), `${JSON.stringify(state)}\n`);
}

export function removeState(deps: Deps, profile: string): void {
  removeFile(mfaStatePath(deps, profile));
}

export function parseFactor(text: string): FactorRecord | undefined {
  let o: FactorRecord;
  try {
    o = JSON.parse(text) as FactorRecord;
  } catch {
    return undefined;
  }
  if (!o || o.v !== 1 || typeof o.id !== 'string' || typeof o.secret !== 'string' || !/^[A-Z2-7]+$/.test(o.secret)) return undefined;
  if (!(ALGORITHMS as readonly string[]).includes(o.algorithm) || !isInt(o.digits) || !isInt(o.period) || !isInt(o.createdAt)) return undefined;
  if (!isBackupCodeSet(o.backup)) return undefined;
  return o;
}

export const serializeFactor = (f: FactorRecord) => JSON.stringify(f);

/** Runs `fn` under the profile's MFA lock (cross-process, bounded wait). Never held across a prompt. */
export async function withMfaLock<T>(deps: Deps, profile: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(deps.paths.locksDir, `${profile}@mfa`, deps.signal);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function unlockHint(profile: string): string {
  return authCommand('mfa unlock', profile);
}

export const lockedOutError = (profile: string, until: number, now: number) =>
  new AuthError('AUTH_MFA_LOCKED', `Too many failed codes: MFA for profile ${profile} is locked until ${formatTime(until)} (in ${Math.max(1, Math.ceil((until - now) / 60_000))} min). Every code is refused until then.`, {
    hint: `Wait until then and run \`${unlockHint(profile)}\` again.`,
  });

/** One message for a wrong, replayed or malformed code (docs/security.md R99). */
export const invalidCodeError = (profile: string) =>
  new AuthError('AUTH_MFA_LOCKED', `Invalid code for profile ${profile}.`, {
    hint: `Enter the current code from your authenticator app, or an unused backup code. After ${LOCKOUT_FAILURES} failed codes in a row MFA locks for 15 minutes.`,
  });

export const needsBackupError = (profile: string, why: string) =>
  new AuthError('AUTH_MFA_LOCKED', `MFA for profile ${profile} is locked: ${why}. Use a backup code: run \`auth mfa unlock\` and enter one of your backup codes (abcde-fghij).`, {
    ...(profile === 'default' ? {} : { hint: `For this profile: ${unlockHint(profile)}` }),
  });

/** The `mfa` value `auth status` shows: "off" | "locked" | "unlocked until <time>" | "locked out until <time>" | "required, not set up". */
export function mfaStatusLabel(deps: Deps, profile: string, required: boolean): string {
  const loaded = loadState(deps, profile);
  if (loaded.kind === 'missing') return required ? 'required, not set up' : 'off';
  if (loaded.kind === 'corrupt') return 'locked (state damaged; backup code needed)';
  const { state } = loaded;
  const now = deps.clock.now();
  if (state.lockedUntil > now) return `locked out until ${formatTime(state.lockedUntil)}`;
  if (state.requireBackup) return 'locked (backup code needed)';
  if (state.unlockedUntil > now) return `unlocked until ${formatTime(state.unlockedUntil)}`;
  return 'locked';
}
