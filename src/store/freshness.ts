import type { Credential } from './credential.js';

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
