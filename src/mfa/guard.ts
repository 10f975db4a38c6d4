import type { ResolvedProfile } from '../config/resolve.js';
import type { StorageKind } from '../config/config.js';
import type { Deps } from '../deps.js';
import { authCommand, AuthError } from '../errors.js';
import { mfaWindowOpen } from '../domain/token-plan.js';
import { findBackupCode } from './backup-codes.js';
import { canPrompt, readCode } from './prompt.js';
import { findSecret, secretStoreFor, type SecretStore } from '../store/secrets.js';
import {
  formatTime, invalidCodeError, loadState, LOCKOUT_FAILURES, LOCKOUT_MS, lockedOutError, mfaAccount, mfaStatePath,
  needsBackupError, parseFactor, saveState, serializeFactor, unlockHint, withMfaLock, type FactorRecord, type MfaState,
} from './state.js';
import { matchStep, stepAt } from './totp.js';

/**
 * The verifier (docs/security.md R94–R102): ±1 time step, replay rejection through the
 * persisted last step, 3 failures → 15-minute lockout persisted across
 * processes, single-use backup codes — all under the per-profile MFA lock,
 * with each attempt charged before it is checked (R97).
 */
export interface MfaContext {
  profile: string;
  storage: StorageKind | undefined;
  unlockMinutes: number;
  required: boolean;
}

export function mfaContext(profile: ResolvedProfile): MfaContext {
  return { profile: profile.name, storage: profile.storage, unlockMinutes: profile.mfa.unlockMinutes, required: profile.mfa.required };
}

export interface ActiveFactor {
  state: MfaState;
  factor: FactorRecord;
  store: SecretStore;
  /** Why the state had to be rebuilt (missing, damaged, stale); set ⇒ backup code required. */
  rebuilt?: string;
}

export type FactorLookup = { kind: 'off' } | { kind: 'broken'; error: AuthError } | ({ kind: 'on' } & ActiveFactor);

export const notSetUp = (profile: string) =>
  new AuthError('AUTH_USAGE', `MFA is not set up for profile ${profile}.`, { hint: `Run \`${authCommand('mfa setup', profile)}\` to turn it on.` });

function freshState(factor: FactorRecord, store: SecretStore): MfaState {
  return { v: 1, secretId: factor.id, store: store.backend, enabledAt: factor.createdAt, lastStep: 0, failures: 0, lockedUntil: 0, unlockedUntil: 0, requireBackup: true };
}

/** Reads the factor and its state; fails closed on anything missing or inconsistent (R98). */
export async function lookupFactor(ctx: MfaContext, deps: Deps): Promise<FactorLookup> {
  const account = mfaAccount(ctx.profile);
  const loaded = loadState(deps, ctx.profile);
  if (loaded.kind === 'ok') {
    const store = await secretStoreFor(loaded.state.store, deps, ctx.storage);
    const text = await store.get(account);
    const factor = text === undefined ? undefined : parseFactor(text);
    if (!factor) {
      const what = text === undefined ? `its secret is missing from the ${store.describe(account)}` : `its secret in the ${store.describe(account)} is damaged`;
      return {
        kind: 'broken',
        error: new AuthError('AUTH_MFA_LOCKED', `MFA is on for profile ${ctx.profile}, but ${what}; every code is refused.`, {
          hint: `If you removed the secret on purpose, delete ${mfaStatePath(deps, ctx.profile)} to turn MFA off for this profile.`,
        }),
      };
    }
    if (factor.id !== loaded.state.secretId) return { kind: 'on', factor, store, state: { ...freshState(factor, store), failures: loaded.state.failures, lockedUntil: loaded.state.lockedUntil }, rebuilt: 'its state belongs to an older secret' };
    return { kind: 'on', factor, store, state: loaded.state };
  }
  const found = await findSecret(account, ctx.storage, deps);
  if (!found) {
    if (loaded.kind === 'missing') return { kind: 'off' };
    return {
      kind: 'broken',
      error: new AuthError('AUTH_MFA_LOCKED', `The MFA state file ${mfaStatePath(deps, ctx.profile)} for profile ${ctx.profile} is damaged and no MFA secret was found; every code is refused.`, {
        hint: 'If you turned MFA off on purpose, delete that file.',
      }),
    };
  }
  const factor = parseFactor(found.value);
  if (!factor) {
    return { kind: 'broken', error: new AuthError('AUTH_MFA_LOCKED', `The MFA secret for profile ${ctx.profile} in the ${found.store.describe(account)} is damaged; every code is refused.`) };
  }
  return { kind: 'on', factor, store: found.store, state: freshState(factor, found.store), rebuilt: loaded.kind === 'missing' ? 'its state file is missing' : 'its state file is damaged' };
}

export type CodeKind = 'totp' | 'backup';

/**
 * Checks one code under the lock. On success runs `then` (still under the
 * lock) with the verified factor; `then` persists whatever it changes.
 */
export async function verifyCode(
  ctx: MfaContext,
  deps: Deps,
  code: string,
  then: (active: ActiveFactor, now: number, kind: CodeKind) => Promise<void>,
): Promise<CodeKind> {
  return withMfaLock(deps, ctx.profile, async () => {
    const found = await lookupFactor(ctx, deps);
    if (found.kind === 'off') throw notSetUp(ctx.profile);
    if (found.kind === 'broken') throw found.error;
    const { state, factor, store } = found;
    const now = deps.clock.now();
    // R96/R97: every attempt is charged before any check, including attempts while locked out.
    state.failures += 1;
    saveState(deps, ctx.profile, state);
    if (state.lockedUntil > now) throw lockedOutError(ctx.profile, state.lockedUntil, now);

    let kind: CodeKind | undefined;
    let step: number | undefined;
    const normalized = code.replace(/\s+/g, '');
    if (!state.requireBackup) {
      const t = stepAt(factor, now);
      // R94: T−1, T, T+1 only; R95: nothing at or before the last accepted step.
      step = matchStep(factor, normalized, [t - 1, t, t + 1].filter((s) => s > state.lastStep));
      if (step !== undefined) kind = 'totp';
    }
    if (!kind) {
      const index = await findBackupCode(factor.backup, normalized);
      if (index !== undefined) {
        // R100: consumed before success is reported; the write is atomic in either backend.
        factor.backup.hashes[index] = null;
        await store.set(mfaAccount(ctx.profile), serializeFactor(factor));
        kind = 'backup';
      }
    }
    if (!kind) {
      if (state.failures >= LOCKOUT_FAILURES) {
        state.lockedUntil = now + LOCKOUT_MS;
        saveState(deps, ctx.profile, state);
        throw lockedOutError(ctx.profile, state.lockedUntil, now);
      }
      throw state.requireBackup ? needsBackupError(ctx.profile, found.rebuilt ?? 'its state had to be rebuilt') : invalidCodeError(ctx.profile);
    }
    state.failures = 0;
    state.lockedUntil = 0;
    if (kind === 'totp') state.lastStep = step!;
    // After a rebuild the last accepted step is unknown: refuse every code that could have been seen already.
    else if (state.requireBackup) state.lastStep = Math.max(state.lastStep, stepAt(factor, now) + 1);
    state.requireBackup = false;
    state.secretId = factor.id;
    state.store = store.backend;
    saveState(deps, ctx.profile, state);
    await then({ state, factor, store }, now, kind);
    return kind;
  });
}

/** Opens the unlock window after a verified code. */
export function openWindow(ctx: MfaContext, deps: Deps) {
  return async ({ state }: ActiveFactor, now: number) => {
    state.unlockedUntil = now + ctx.unlockMinutes * 60_000;
    saveState(deps, ctx.profile, state);
  };
}

function lockedError(profile: string): AuthError {
  return new AuthError('AUTH_MFA_LOCKED', `MFA is locked for profile ${profile}: run \`auth mfa unlock\` to open an unlock window.`, {
    ...(profile === 'default' ? {} : { hint: `For this profile: ${unlockHint(profile)}` }),
  });
}

/**
 * docs/design.md §2: with MFA on for the profile, `auth token`, `auth exec`, `auth
 * login` and `auth logout` need an open unlock window. Open → returns at once
 * (one small file read). Locked → on a terminal asks for a code inline; without
 * one throws exit 4 naming `auth mfa unlock`.
 */
export async function requireUnlocked(profile: ResolvedProfile, deps: Deps): Promise<void> {
  const ctx = mfaContext(profile);
  const loaded = loadState(deps, ctx.profile);
  const now = deps.clock.now();
  if (loaded.kind === 'ok' && mfaWindowOpen(loaded.state, now)) return;
  const found = await lookupFactor(ctx, deps);
  if (found.kind === 'off') {
    if (!ctx.required) return;
    throw new AuthError('AUTH_MFA_LOCKED', `Profile ${ctx.profile} requires MFA (mfa.required in the config), but it is not set up.`, {
      hint: `Run \`${authCommand('mfa setup', ctx.profile)}\` first.`,
    });
  }
  if (found.kind === 'broken') throw found.error;
  if (found.state.lockedUntil > now) throw lockedOutError(ctx.profile, found.state.lockedUntil, now);
  const rebuilt = found.rebuilt ?? (found.state.requireBackup ? 'its state had to be rebuilt' : undefined);
  if (!canPrompt(deps) || !deps.io.stderrIsTTY) throw rebuilt ? needsBackupError(ctx.profile, rebuilt) : lockedError(ctx.profile);
  deps.log.info(rebuilt ? `MFA for profile ${ctx.profile} is locked (${rebuilt}); only a backup code opens it.` : `MFA is locked for profile ${ctx.profile}.`);
  const code = await readCode(deps, rebuilt ? 'Backup code' : 'Code from your authenticator app (or a backup code)');
  await verifyCode(ctx, deps, code, openWindow(ctx, deps));
  const until = loadState(deps, ctx.profile);
  deps.log.success(`MFA unlocked for profile ${ctx.profile}${until.kind === 'ok' ? ` until ${formatTime(until.state.unlockedUntil)}` : ''}.`);
}
