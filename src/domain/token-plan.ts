import type { Credential } from './credential.js';
import type { MfaState } from './mfa-state.js';

/**
 * The one rule for `auth token` (docs/design.md §2, §7), pure and dependency-free.
 * Both paths execute it: the fast path (src/fast/token.ts) runs its read-only part
 * and defers to the full CLI on anything else; the full CLI (src/app/get-token.ts,
 * flows/refresh.ts, mfa/guard.ts) runs all of it. docs/architecture.md explains
 * the flow; test/token-differential.test.ts holds the two paths to the same output.
 */

/** `--min-ttl` when not given, in seconds (docs/design.md §2). */
export const DEFAULT_MIN_TTL_S = 300;

/** What `auth token` was asked for. */
export interface TokenRequest {
  minTtlMs: number;
  idToken: boolean;
  noRefresh: boolean;
}

/**
 * What to do with the stored credential:
 * - `serve`: print it (after the MFA precondition);
 * - `refresh`: due within the min-TTL (or expired) and a refresh may run;
 * - `expired`: a token the caller needs has expired and no refresh may run;
 * - `no-id-token`: `--id-token` on a credential without one.
 * A due but unexpired token with `--no-refresh` is served.
 */
export type TokenDecision =
  | { kind: 'serve' }
  | { kind: 'refresh' }
  | { kind: 'expired'; which: 'access token' | 'ID token' }
  | { kind: 'no-id-token' };

export function decideToken(cred: Credential, req: TokenRequest, now: number, canRefresh: boolean): TokenDecision {
  if (needsRefresh(cred, req.minTtlMs, now, req.idToken)) {
    if (!req.noRefresh && canRefresh) return { kind: 'refresh' };
    const which = expiredToken(cred, now, req.idToken);
    if (which) return { kind: 'expired', which };
  }
  if (req.idToken && !cred.idToken) return { kind: 'no-id-token' };
  return { kind: 'serve' };
}

/**
 * The MFA precondition (docs/design.md §2 `auth mfa`; docs/security.md R96, R98): a guarded
 * profile hands out tokens only inside an unlock window, never while locked out or when only
 * a backup code may open it. Anything else is for mfa/guard.ts to decide (it may prompt).
 */
export function mfaWindowOpen(state: MfaState, now: number): boolean {
  return !state.requireBackup && state.lockedUntil <= now && state.unlockedUntil > now;
}

/**
 * Which stored copy of a secret counts, for the keychain store: a fallback file beside a
 * keychain entry was written while the keychain failed for some process, after the entry
 * (a move into the keychain removes the file), so the file is the NEWER copy. With
 * refresh-token rotation, using the entry would replay a refresh token the provider already
 * rotated and end the session. `move`: the winner must be moved into the keychain, which
 * is a write (the full CLI's job; the fast path defers).
 */
export function chooseCopy(keychain: string | undefined, fallbackFile: string | undefined): { value: string | undefined; from: 'keychain' | 'fallback-file' | 'none'; move: boolean } {
  if (fallbackFile !== undefined) return { value: fallbackFile, from: 'fallback-file', move: true };
  if (keychain !== undefined) return { value: keychain, from: 'keychain', move: false };
  return { value: undefined, from: 'none', move: false };
}


/**
 * When a stored token counts as due for a refresh (docs/design.md §2 `auth token`):
 * when it expires within the caller's min-TTL (`--min-ttl`, default 300 s), and
 * never later than the 60 s skew margin of docs/security.md R36, whatever the min-TTL.
 * A token whose lifetime is shorter than the min-TTL is therefore refreshed on every
 * call, as the contract says; concurrent callers still cause one refresh, because a
 * process that waited for the lock uses the token another one just stored
 * (flows/refresh.ts). With `idToken` (`auth token --id-token`) the ID token's own
 * `exp` counts too. Tiny and dependency-free: the `auth token` fast path uses it too.
 */
export function needsRefresh(cred: Credential, minTtlMs: number, now: number, idToken = false): boolean {
  const margin = Math.max(minTtlMs, EXPIRY_SKEW_MS);
  if (cred.expiresAt !== undefined && cred.expiresAt - now <= margin) return true;
  if (!idToken || !cred.idToken) return false;
  return idTokenExpiresAt(cred) - now <= margin;
}

/** docs/security.md R36's skew margin. */
export const EXPIRY_SKEW_MS = 60_000;

export function isExpired(cred: Credential, now: number, idToken = false): boolean {
  return expiredToken(cred, now, idToken) !== undefined;
}

/** Which of the tokens the caller needs has expired (the access token first), if any. */
export function expiredToken(cred: Credential, now: number, idToken = false): 'access token' | 'ID token' | undefined {
  if (cred.expiresAt !== undefined && cred.expiresAt <= now) return 'access token';
  if (idToken && cred.idToken && idTokenExpiresAt(cred) <= now) return 'ID token';
  return undefined;
}

/**
 * The ID token's expiry in epoch ms. Credentials stored before `id_token_expires_at`
 * existed carry only the token: its payload was validated when it arrived, so reading
 * `exp` back from it is safe. One whose `exp` cannot be read counts as expired (0),
 * so it is never printed (OpenID Connect Core §2 makes `exp` required).
 */
export function idTokenExpiresAt(cred: Credential): number {
  if (cred.idTokenExpiresAt !== undefined) return cred.idTokenExpiresAt;
  try {
    const payload = JSON.parse(Buffer.from(cred.idToken?.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown } | null;
    return typeof payload?.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp * 1000 : 0;
  } catch {
    return 0;
  }
}
