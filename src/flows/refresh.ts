import * as client from 'openid-client';
import type { Deps } from '../deps.js';
import { AuthError, notLoggedIn, sessionEnded } from '../errors.js';
import type { Credential } from '../store/credential.js';
import { isExpired, needsRefresh } from '../store/freshness.js';
import { acquireLock } from '../store/lock.js';
import type { TokenStore } from '../store/token-store.js';
import { oauthErrorCode, fromProtocolError } from './protocol-errors.js';
import { connectServer } from './server.js';
import { credentialFromTokens } from './tokens.js';
import { reissueServiceCredential } from './client-credentials.js';

/**
 * The one refresh path (used by token, refresh, exec, status). DESIGN §5:
 * under a per-profile cross-process lock, re-read the store, use a token
 * another process just stored, else refresh and persist the rotated refresh
 * token before the lock is released.
 */
export interface FreshnessRequest {
  profile: string;
  store: TokenStore;
  minTtlMs: number;
  force?: boolean;
  /** Never contact the server (auth token --no-refresh). */
  noRefresh?: boolean;
  clientSecret?: string;
  deps: Deps;
}

export { isExpired, needsRefresh } from '../store/freshness.js';

export async function ensureFreshCredential(req: FreshnessRequest): Promise<{ credential: Credential; refreshed: boolean }> {
  const { deps, profile, store } = req;
  const first = await store.get(profile);
  if (!first) throw notLoggedIn(profile);
  if (!req.force && !needsRefresh(first, req.minTtlMs, deps.clock.now())) return { credential: first, refreshed: false };
  if (req.noRefresh) {
    if (isExpired(first, deps.clock.now())) throw expiredError(profile, 'the access token has expired and --no-refresh was given');
    return { credential: first, refreshed: false };
  }
  if (first.kind === 'static') return { credential: first, refreshed: false };
  if (first.kind === 'oauth' && !first.refreshToken) {
    if (isExpired(first, deps.clock.now()) || req.force) throw expiredError(profile, 'the access token has expired and the provider issued no refresh token');
    return { credential: first, refreshed: false };
  }

  const lock = await acquireLock(deps.paths.locksDir, profile, deps.signal);
  try {
    // Another process may have refreshed while we waited for the lock.
    const current = await store.get(profile);
    if (!current) throw notLoggedIn(profile);
    // Any token stored since our first read is as fresh as the provider makes them: use it
    // rather than spending (and, under rotation, racing) another refresh (DESIGN §5).
    if (current.accessToken !== first.accessToken && !isExpired(current, deps.clock.now())) {
      deps.log.debug('another process refreshed the token while we waited; using it');
      return { credential: current, refreshed: false };
    }
    if (!req.force && !needsRefresh(current, req.minTtlMs, deps.clock.now())) return { credential: current, refreshed: false };
    // Slow write preparation (the encrypted store's key derivation) overlaps the request, so
    // little time passes between the provider rotating the refresh token and our storing it.
    store.prepareWrite?.(profile);
    const next = await refreshCredential(current, req);
    await store.set(profile, next);
    return { credential: next, refreshed: true };
  } finally {
    lock.release();
  }
}

function expiredError(profile: string, why: string): AuthError {
  return new AuthError('AUTH_NOT_LOGGED_IN', `The credential for profile ${profile} cannot be used: ${why}.`, {
    hint: `Run \`auth login${profile === 'default' ? '' : ` -p ${profile}`}\` to sign in again.`,
  });
}

async function refreshCredential(cred: Credential, req: FreshnessRequest): Promise<Credential> {
  const { deps, profile } = req;
  // Service accounts have no refresh token: the client_credentials grant runs again (one path for login and re-issue).
  if (cred.kind === 'client_credentials') return reissueServiceCredential(cred, profile, req.clientSecret, deps);
  // R06/R54: refresh only at the issuer that issued the token.
  const config = await connectServer({ issuer: cred.issuer, clientId: cred.clientId, ...(req.clientSecret ? { clientSecret: req.clientSecret } : {}), useCache: true }, deps);
  const now = deps.clock.now();
  let tokens;
  try {
    const params: Record<string, string> = {};
    if (cred.resources?.length === 1) params.resource = cred.resources[0]!;
    tokens = await client.refreshTokenGrant(config, cred.refreshToken!, params);
  } catch (e) {
    const code = oauthErrorCode(e);
    if (code === 'invalid_grant' && cred.kind === 'oauth') {
      // R58: the grant is gone; remove the dead credential, do not retry.
      await req.store.delete(profile);
      throw sessionEnded(profile, 'the provider no longer accepts the refresh token (invalid_grant)');
    }
    // R59: never retry a refresh that may have been sent; the stored credential stays as it was.
    throw fromProtocolError(e, 'Refreshing the access token');
  }
  try {
    return credentialFromTokens(tokens, {
      kind: cred.kind,
      issuer: cred.issuer,
      clientId: cred.clientId,
      now,
      requestedScopes: cred.scope.split(' ').filter(Boolean),
      resources: cred.resources ?? [],
      previous: cred,
    });
  } catch (e) {
    if (e instanceof AuthError && e.code === 'AUTH_SESSION_ENDED') await req.store.delete(profile);
    throw e;
  }
}
