import type { Credential } from './credential.js';

/**
 * When a stored access token counts as due for a refresh (DESIGN §2 `auth token`):
 * when it expires within the caller's min-TTL (`--min-ttl`, default 300 s), and
 * never later than the 60 s skew margin of SECURITY R36, whatever the min-TTL.
 * A token whose lifetime is shorter than the min-TTL is therefore refreshed on every
 * call, as the contract says; concurrent callers still cause one refresh, because a
 * process that waited for the lock uses the token another one just stored
 * (flows/refresh.ts). Tiny and dependency-free: the `auth token` fast path uses it too.
 */
export function needsRefresh(cred: Credential, minTtlMs: number, now: number): boolean {
  return cred.expiresAt !== undefined && cred.expiresAt - now <= Math.max(minTtlMs, EXPIRY_SKEW_MS);
}

/** SECURITY R36's skew margin. */
export const EXPIRY_SKEW_MS = 60_000;

export function isExpired(cred: Credential, now: number): boolean {
  return cred.expiresAt !== undefined && cred.expiresAt <= now;
}
