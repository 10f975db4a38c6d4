import type { Credential } from './credential.js';

/**
 * When a stored access token counts as due for a refresh. The threshold is the
 * caller's min-TTL, capped at half the token's lifetime: a provider issuing
 * 60-second tokens cannot satisfy `--min-ttl 300`, and refreshing on every call
 * would only burn refresh tokens (and, under rotation, race other processes).
 * It is never below the 60 s skew margin (R36): a token with less than that left
 * is refreshed, however short its lifetime.
 * Tiny and dependency-free: the `auth token` fast path uses it too.
 */
export function refreshThresholdMs(cred: Credential, minTtlMs: number): number {
  if (cred.expiresAt === undefined) return 0;
  const lifetime = cred.expiresAt - cred.obtainedAt;
  const wanted = lifetime > 0 ? Math.min(minTtlMs, lifetime / 2) : minTtlMs;
  // SECURITY R36: whatever the caller asked for, a token is treated as expired a skew margin
  // early (clocks and the time the token spends in flight to the API).
  return Math.max(wanted, EXPIRY_SKEW_MS);
}

/** SECURITY R36's skew margin. */
export const EXPIRY_SKEW_MS = 60_000;

export function needsRefresh(cred: Credential, minTtlMs: number, now: number): boolean {
  return cred.expiresAt !== undefined && cred.expiresAt - now <= refreshThresholdMs(cred, minTtlMs);
}

export function isExpired(cred: Credential, now: number): boolean {
  return cred.expiresAt !== undefined && cred.expiresAt <= now;
}
