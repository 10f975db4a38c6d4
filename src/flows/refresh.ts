import type { Config } from '../config/config.js';
import type { ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { describeServer } from '../providers/resolve.js';
import { AuthError, loginCommand, notLoggedIn, sessionEnded } from '../errors.js';
import type { Credential } from '../domain/credential.js';
import { decideToken, expiredToken, isExpired, needsRefresh } from '../domain/token-plan.js';
import type { Lock } from '../store/lock.js';
import { acquireProfileLock } from '../store/profile-lock.js';
import { relativeTime, sanitize } from '../ui/text.js';
import type { TokenStore } from '../store/token-store.js';
import { oauthErrorCode, fromProtocolError } from './protocol-errors.js';
import { credentialFromTokens } from './tokens.js';

/**
 * The one refresh path (used by token, refresh, exec, status). docs/design.md §5:
 * under a per-profile cross-process lock, re-read the store, use a token
 * another process just stored, else refresh and persist the rotated refresh
 * token before the lock is released.
 */
export interface FreshnessRequest {
  profile: string;
  /** The config the caller read, and the profile resolved from it: the refresh never re-reads config.yaml under the lock. */
  config: Config;
  resolved: Pick<ResolvedProfile, 'name' | 'privateKeyFile' | 'clientId' | 'clientSecretEnv'>;
  store: TokenStore;
  minTtlMs: number;
  force?: boolean;
  /** Never contact the server (auth token --no-refresh). */
  noRefresh?: boolean;
  /** The caller prints the ID token (auth token --id-token): its own `exp` counts as well. */
  idToken?: boolean;
  clientSecret?: string;
  /**
   * When the provider cannot be reached (network, timeout, 5xx), hand out the current token if
   * it is still valid, with a warning (`auth token`, `auth exec`): being inside --min-ttl is a
   * reason to refresh early, not to fail while the token still works.
   */
  serveValidOnOutage?: boolean;
  deps: Deps;
}



export async function ensureFreshCredential(req: FreshnessRequest): Promise<{ credential: Credential; refreshed: boolean }> {
  const { deps, profile, store } = req;
  const idToken = Boolean(req.idToken);
  const first = await store.get(profile);
  if (!first) throw notLoggedIn(profile);
  const noRefreshToken = first.kind === 'oauth' && !first.refreshToken;
  if (!req.force) {
    // The token rule (src/domain/token-plan.ts), the same decision the fast path makes.
    const decision = decideToken(first, { minTtlMs: req.minTtlMs, idToken, noRefresh: Boolean(req.noRefresh) }, deps.clock.now(), !noRefreshToken);
    if (decision.kind === 'expired') throw expiredError(profile, `the ${decision.which} has expired and ${req.noRefresh ? '--no-refresh was given' : 'the provider issued no refresh token'}`);
    // A missing ID token is the caller's to report (app/get-token.ts).
    if (decision.kind !== 'refresh') return { credential: first, refreshed: false };
  }
  if (first.kind === 'static') return { credential: first, refreshed: false };
  if (noRefreshToken) throw expiredError(profile, `the ${expiredToken(first, deps.clock.now(), idToken) ?? 'access token'} has expired and the provider issued no refresh token`);

  const lock = await acquireProfileLock(profile, deps);
  try {
    // Another process may have refreshed while we waited for the lock.
    const current = await store.get(profile);
    if (!current) throw notLoggedIn(profile);
    // Any token stored since our first read is as fresh as the provider makes them: use it
    // rather than spending (and, under rotation, racing) another refresh (docs/design.md §5).
    if (current.accessToken !== first.accessToken && !isExpired(current, deps.clock.now(), idToken)) {
      deps.log.debug('another process refreshed the token while we waited; using it');
      return { credential: current, refreshed: false };
    }
    if (!req.force && !needsRefresh(current, req.minTtlMs, deps.clock.now(), idToken)) return { credential: current, refreshed: false };
    // Space for the new credential is set aside before the request: a full disk fails here,
    // before the provider rotates the refresh token. Slow write preparation (the encrypted
    // store's key derivation) overlaps the request, so little time passes between the
    // provider rotating the refresh token and our storing it.
    store.reserveWrite?.(profile);
    let next: Credential;
    try {
      next = await refreshCredential(current, req);
    } catch (e) {
      if (e instanceof RefreshRefusedError) return await afterRefusal(current, e, lock, req);
      if (req.serveValidOnOutage && !req.force && isOutage(e) && !isExpired(current, deps.clock.now(), idToken)) {
        const left = current.expiresAt === undefined ? '' : `, which expires ${relativeTime(current.expiresAt - deps.clock.now())}`;
        deps.log.warn(`Could not refresh the token of profile ${profile} (${e.message.replace(/\.$/, '')}); using the current one${left}.`);
        return { credential: current, refreshed: false };
      }
      throw e;
    }
    if (!lock.held()) {
      // Our lock was taken over (we looked dead to another process): store only if nobody
      // stored anything since we read, so a newer credential is never overwritten.
      const now = await store.get(profile);
      if (!now || !sameCredential(now, current)) {
        deps.log.warn(`Another auth process stored a credential for profile ${profile} while this refresh was running; keeping that one.`);
        return now && !isExpired(now, deps.clock.now(), idToken) ? { credential: now, refreshed: false } : { credential: next, refreshed: true };
      }
    }
    await store.set(profile, next);
    return { credential: next, refreshed: true };
  } finally {
    store.releaseWrite?.(profile);
    lock.release();
  }
}

const sameCredential = (a: Credential, b: Credential) => a.accessToken === b.accessToken && a.refreshToken === b.refreshToken;

/**
 * The provider refused the refresh token. If the store no longer holds the token we sent
 * (a sign-in, or a process that took our lock, stored a newer one), this process merely
 * lost a race: nothing is deleted and the stored credential is used. Otherwise the session
 * has ended: the dead credential is removed, so `auth status` says a login is needed.
 */
async function afterRefusal(sent: Credential, refusal: RefreshRefusedError, lock: Lock, req: FreshnessRequest): Promise<{ credential: Credential; refreshed: boolean }> {
  const { deps, profile, store } = req;
  const now = await store.get(profile);
  if (now && !sameCredential(now, sent)) {
    deps.log.debug('the refresh token was refused, but the store holds a newer credential; using it');
    if (isExpired(now, deps.clock.now(), Boolean(req.idToken))) throw expiredError(profile, 'a newer credential was stored meanwhile, and it has expired too');
    return { credential: now, refreshed: false };
  }
  if (now && lock.held()) await store.delete(profile);
  throw sessionEnded(profile, refusal.why);
}

export function expiredError(profile: string, why: string): AuthError {
  return new AuthError('AUTH_NOT_LOGGED_IN', `The credential for profile ${profile} cannot be used: ${why}.`, {
    hint: `Run \`${loginCommand(profile)}\` to sign in again.`,
  });
}

async function refreshCredential(cred: Credential, req: FreshnessRequest): Promise<Credential> {
  const { deps } = req;
  // Service accounts have no refresh token: the client_credentials grant runs again (one path for login and re-issue).
  const server = describeServer(cred.issuer, req.config);
  // The protocol stack loads only for a refresh: `auth token` with a fresh token never needs it.
  if (cred.kind === 'client_credentials') {
    const { reissueServiceCredential } = await import('./client-credentials.js');
    return reissueServiceCredential(cred, req.resolved, server, req.clientSecret, deps);
  }
  const [client, { connectServer }] = await Promise.all([import('openid-client'), import('./server.js')]);
  // R06/R54: refresh only at the issuer that issued the token.
  const config = await connectServer({ issuer: cred.issuer, clientId: cred.clientId, server, ...(req.clientSecret ? { clientSecret: req.clientSecret } : {}), useCache: true }, deps);
  const now = deps.clock.now();
  let tokens;
  try {
    const params: Record<string, string> = {};
    if (cred.resources?.length === 1) params.resource = cred.resources[0]!;
    tokens = await client.refreshTokenGrant(config, cred.refreshToken!, params);
  } catch (e) {
    const refused = cred.kind === 'oauth' ? refusalReason(e) : undefined;
    // R58: the grant is gone; the caller removes the dead credential, nothing is retried.
    if (refused) throw new RefreshRefusedError(refused);
    // R59: never retry a refresh that may have been sent; the stored credential stays as it was.
    const err = fromProtocolError(e, 'Refreshing the access token');
    throw serverError(e) ? new ProviderOutageError(err) : err;
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
    if (e instanceof AuthError && e.code === 'AUTH_SESSION_ENDED') throw new RefreshRefusedError(e.message.replace(/\.$/, ''));
    throw e;
  }
}

/**
 * The provider could not answer — unreachable or too slow (AUTH_NETWORK, at discovery or the
 * token endpoint, for a refresh or a service account's re-issue), or an HTTP 5xx from the token
 * endpoint — as opposed to answering something wrong (an oversized or malformed answer, a DPoP
 * token, invalid_target), which is never papered over.
 */
const isOutage = (e: unknown): e is AuthError => e instanceof ProviderOutageError || (e instanceof AuthError && e.code === 'AUTH_NETWORK');

/** A 5xx answer to the refresh grant. */
class ProviderOutageError extends AuthError {
  constructor(err: AuthError) {
    super(err.code, err.message, err.hint === undefined ? {} : { hint: err.hint });
  }
}

function serverError(e: unknown): boolean {
  const status = (e as { status?: unknown } | undefined)?.status ?? ((e as { cause?: unknown } | undefined)?.cause as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 500;
}

/** The provider will not refresh this credential any more (see afterRefusal). */
class RefreshRefusedError extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

/**
 * Answers to a refresh grant that end the session (docs/architecture.md "Session end"):
 * `invalid_grant`, and any other 400/401 — real servers answer a dead refresh token with
 * `invalid_request` or an empty 400 body — except errors that name a problem with the
 * request or the client rather than the token (a wrong client secret, a resource or scope
 * the server does not know): those fail with exit 1 and keep the credential, as 5xx,
 * timeouts and network errors do.
 */
const NOT_ABOUT_THE_TOKEN = new Set(['invalid_client', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'invalid_target', 'invalid_dpop_proof', 'use_dpop_nonce']);

function refusalReason(e: unknown): string | undefined {
  if (e instanceof AuthError) return undefined;
  const code = oauthErrorCode(e);
  if (code === 'invalid_grant') return 'the provider no longer accepts the refresh token (invalid_grant)';
  const status = httpStatus(e);
  if (status !== 400 && status !== 401) return undefined;
  if (code && NOT_ABOUT_THE_TOKEN.has(code)) return undefined;
  return `the provider refused the refresh token (HTTP ${status}${code ? `, ${sanitize(code, 40)}` : ''})`;
}

/** The HTTP status of a token-endpoint answer the library rejected, when there was one. */
function httpStatus(e: unknown): number | undefined {
  const err = e as { status?: unknown; cause?: { status?: unknown } } | undefined;
  if (typeof err?.status === 'number') return err.status;
  if (typeof err?.cause?.status === 'number') return err.cause.status;
  return undefined;
}
