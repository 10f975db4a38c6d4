import type { Credential } from './credential.js';

/**
 * When a stored access token counts as due for a refresh. The threshold is the
 * caller's min-TTL, capped at half the token's lifetime: a provider issuing
 * 60-second tokens cannot satisfy `--min-ttl 300`, and refreshing on every call
 * would only burn refresh tokens (and, under rotation, race other processes).
 * Tiny and dependency-free: the `auth token` fast path uses it too.
 */
export function refreshThresholdMs(cred: Credential, minTtlMs: number): number {
  if (cred.expiresAt === undefined) return 0;
  const lifetime = cred.expiresAt - cred.obtainedAt;
  return lifetime > 0 ? Math.min(minTtlMs, lifetime / 2) : minTtlMs;
}

export function needsRefresh(cred: Credential, minTtlMs: number, now: number): boolean {
  return cred.expiresAt !== undefined && cred.expiresAt - now <= refreshThresholdMs(cred, minTtlMs);
}

export function isExpired(cred: Credential, now: number): boolean {
  return cred.expiresAt !== undefined && cred.expiresAt <= now;
}
