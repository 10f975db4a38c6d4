import { randomBytes } from 'node:crypto';
import type { Deps } from '../deps.js';
import { authCommand, AuthError, usageError } from '../errors.js';
import { loadIndex } from '../mfa/authenticator.js';
import { generateBackupCodes, remainingBackupCodes, type BackupCodeSet } from '../mfa/backup-codes.js';
import { lookupFactor, mfaContext, notSetUp, openWindow, verifyCode, type CodeKind, type MfaContext } from '../mfa/guard.js';
import {
  lockedOutError, loadState, mfaAccount, mfaStatePath, removeState, saveState, serializeFactor, withMfaLock,
  type FactorRecord, type MfaState,
} from '../mfa/state.js';
import { enrolmentUri, ENROLMENT, generateSecret, matchStep, stepAt, type TotpParams } from '../mfa/totp.js';
import { openSecretStore } from '../store/secrets.js';
import { loadProfile } from './context.js';

/**
 * The local second factor's use cases (docs/design.md §2 `auth mfa`): they take the codes
 * the command read and return what happened; reading codes and printing is the command's.
 */


export function mfaFor(profile: string | undefined, deps: Deps): MfaContext {
  return mfaContext(loadProfile(deps, { profile }).profile);
}

/** A new TOTP secret for the profile, not active until confirmed (docs/security.md R93). */
export interface Enrolment {
  params: TotpParams;
  /** The otpauth:// URI to scan (it holds the secret: shown on the terminal only). */
  uri: string;
}

export async function beginEnrolment(ctx: MfaContext, deps: Deps): Promise<Enrolment> {
  const existing = await lookupFactor(ctx, deps);
  if (existing.kind === 'broken') throw existing.error;
  if (existing.kind !== 'off') {
    throw usageError(`MFA is already set up for profile ${ctx.profile}.`, `To start over, run \`${authCommand('mfa disable', ctx.profile)}\` (it asks for a code), then \`${authCommand('mfa setup', ctx.profile)}\`.`);
  }
  const params: TotpParams = { secret: generateSecret(), ...ENROLMENT };
  const host = deps.hostname.replace(/[^A-Za-z0-9.-]/g, '').slice(0, 64) || 'host';
  return { params, uri: enrolmentUri(`${ctx.profile}@${host}`, params.secret) };
}

/** The time step a code confirms (one step of drift either way), or undefined. */
export function confirmEnrolment(e: Enrolment, code: string, deps: Deps): number | undefined {
  const t = stepAt(e.params, deps.clock.now());
  return matchStep(e.params, code.replace(/\s+/g, ''), [t - 1, t, t + 1]);
}

export interface Enabled {
  backupCodes: string[];
  /** Where the secret went (e.g. "keychain entry authcli/mfa:default"). */
  secretWhere: string;
  unlockedUntil: number;
}

/** Stores the confirmed secret and the MFA state (under the MFA lock); the session starts unlocked. */
export async function enableMfa(ctx: MfaContext, e: Enrolment, step: number, deps: Deps): Promise<Enabled> {
  const { codes, set } = await generateBackupCodes(deps.clock.now());
  const store = await openSecretStore(ctx.storage, deps, `MFA secret for profile ${ctx.profile}`);
  const now = deps.clock.now();
  const factor: FactorRecord = { v: 1, id: randomBytes(12).toString('hex'), createdAt: now, ...e.params, backup: set };
  const account = mfaAccount(ctx.profile);
  const unlockedUntil = now + ctx.unlockMinutes * 60_000;
  await withMfaLock(deps, ctx.profile, async () => {
    if ((await lookupFactor(ctx, deps)).kind !== 'off') throw usageError(`MFA was set up for profile ${ctx.profile} by another process meanwhile; nothing was changed.`);
    await store.set(account, serializeFactor(factor));
    const state: MfaState = {
      v: 1, secretId: factor.id, store: store.backend, enabledAt: now, lastStep: step, failures: 0, lockedUntil: 0,
      unlockedUntil, requireBackup: false,
    };
    try {
      saveState(deps, ctx.profile, state);
    } catch (err) {
      await store.delete(account).catch(() => undefined);
      throw err;
    }
  });
  return { backupCodes: codes, secretWhere: store.describe(account), unlockedUntil };
}

export function enrolmentFailed(ctx: MfaContext): AuthError {
  return new AuthError('AUTH_FAILED', `The code does not match the new secret; MFA was not turned on for profile ${ctx.profile}.`, {
    hint: `Check that the device's clock is right, then run \`${authCommand('mfa setup', ctx.profile)}\` again (it makes a new secret).`,
  });
}

/**
 * A locked-out profile is refused before anyone types a code — only when the code comes from
 * a terminal (`interactive`): a piped code is an attempt and is counted. Returns a warning to
 * show when the state had to be rebuilt (only a backup code opens it then).
 */
export async function checkCanVerify(ctx: MfaContext, interactive: boolean, deps: Deps): Promise<string | undefined> {
  const found = await lookupFactor(ctx, deps);
  if (found.kind === 'off') throw notSetUp(ctx.profile);
  if (found.kind === 'broken') throw found.error;
  const now = deps.clock.now();
  if (interactive && found.state.lockedUntil > now) throw lockedOutError(ctx.profile, found.state.lockedUntil, now);
  return found.rebuilt ? `MFA for profile ${ctx.profile} is locked (${found.rebuilt}); only a backup code opens it.` : undefined;
}

/** What a verified code did: which kind it was and, for a backup code, how many are left. */
export interface CodeUsed {
  kind: CodeKind;
  backupLeft?: number;
}

export async function unlockMfa(ctx: MfaContext, code: string, deps: Deps): Promise<CodeUsed & { until: number }> {
  let backupLeft: number | undefined;
  let until = 0;
  const kind = await verifyCode(ctx, deps, code, async (active, now, k) => {
    await openWindow(ctx, deps)(active, now);
    until = active.state.unlockedUntil;
    if (k === 'backup') backupLeft = remainingBackupCodes(active.factor.backup);
  });
  return { kind, until, ...(backupLeft !== undefined ? { backupLeft } : {}) };
}

/** Closes the unlock window; 'missing' when MFA is not set up. */
export async function lockMfa(ctx: MfaContext, deps: Deps): Promise<'locked' | 'missing' | 'corrupt'> {
  return withMfaLock(deps, ctx.profile, async () => {
    const loaded = loadState(deps, ctx.profile);
    if (loaded.kind !== 'ok') return loaded.kind;
    loaded.state.unlockedUntil = 0;
    saveState(deps, ctx.profile, loaded.state);
    return 'locked';
  });
}

/** Deletes the secret and the state once a code was verified. */
export async function disableMfa(ctx: MfaContext, code: string, deps: Deps): Promise<void> {
  await verifyCode(ctx, deps, code, async ({ store }) => {
    await store.delete(mfaAccount(ctx.profile));
    removeState(deps, ctx.profile);
  });
}

/** New backup codes (the old ones stop working) once a code was verified. */
export async function renewBackupCodes(ctx: MfaContext, code: string, deps: Deps): Promise<string[]> {
  let fresh: { codes: string[]; set: BackupCodeSet } | undefined;
  await verifyCode(ctx, deps, code, async ({ factor, store }, now) => {
    fresh = await generateBackupCodes(now);
    factor.backup = fresh.set;
    await store.set(mfaAccount(ctx.profile), serializeFactor(factor));
  });
  return fresh!.codes;
}

/** `auth mfa status --json` (docs/design.md §2). */
export interface MfaStatusJson {
  profile: string;
  enabled: boolean;
  required: boolean;
  state: 'off' | 'locked' | 'unlocked' | 'locked-out' | 'broken' | 'not-set-up';
  unlockedUntil: string | null;
  lockedUntil: string | null;
  failures: number;
  backupCodesLeft: number;
  storage: string | null;
  authenticatorEntries: number;
}

export interface MfaStatus {
  json: MfaStatusJson;
  /** Why only a backup code opens it, or what is damaged. */
  problem?: string;
  /** Where the secret and the state are, when MFA is on and readable. */
  where?: { secret: string; state: string };
}

export async function mfaStatus(ctx: MfaContext, deps: Deps): Promise<MfaStatus> {
  const found = await lookupFactor(ctx, deps);
  const now = deps.clock.now();
  let entries = 0;
  try { entries = loadIndex(deps).length; } catch { /* reported by `auth mfa list` */ }
  const out: MfaStatusJson = {
    profile: ctx.profile, enabled: found.kind !== 'off', required: ctx.required, state: ctx.required ? 'not-set-up' : 'off',
    unlockedUntil: null, lockedUntil: null, failures: 0, backupCodesLeft: 0, storage: null, authenticatorEntries: entries,
  };
  const status: MfaStatus = { json: out };
  if (found.kind === 'broken') {
    out.state = 'broken';
    status.problem = found.error.message;
  } else if (found.kind === 'on') {
    const { state } = found;
    out.failures = state.failures;
    out.backupCodesLeft = remainingBackupCodes(found.factor.backup);
    out.storage = found.store.backend;
    if (state.lockedUntil > now) { out.state = 'locked-out'; out.lockedUntil = new Date(state.lockedUntil).toISOString(); }
    else if (!state.requireBackup && !found.rebuilt && state.unlockedUntil > now) { out.state = 'unlocked'; out.unlockedUntil = new Date(state.unlockedUntil).toISOString(); }
    else out.state = 'locked';
    if (found.rebuilt || state.requireBackup) status.problem = `${found.rebuilt ?? 'its state had to be rebuilt'}; only a backup code opens it`;
    status.where = { secret: found.store.describe(mfaAccount(ctx.profile)), state: mfaStatePath(deps, ctx.profile) };
  }
  return status;
}
