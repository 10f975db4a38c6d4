import type { Config } from '../config/config.js';
import type { ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import type { Credential } from '../domain/credential.js';
import { DEFAULT_MIN_TTL_S, expiredToken } from '../domain/token-plan.js';
import { AuthError } from '../errors.js';
import { ensureFreshCredential, expiredError } from '../flows/refresh.js';
import { requireUnlocked } from '../mfa/guard.js';
import { clientSecretFor, loadProfile, storeFor } from './context.js';

/**
 * The one "fresh token for a profile" use case, behind `auth token`, `auth exec` and
 * `auth refresh` (docs/design.md §2, §5): resolve the profile, check the MFA precondition,
 * open its store, and run the token rule of src/domain/token-plan.ts through the one
 * refresh function (flows/refresh.ts), which refreshes under the profile lock when due.
 * Returns data; the commands render it.
 */
export interface GetTokenRequest {
  profile?: string;
  /** Refresh when the token expires within this; default docs/design.md §2's 300 s. */
  minTtlMs?: number;
  /** The caller prints the ID token (`--id-token`): it must exist and be unexpired. */
  idToken?: boolean;
  /** Never contact the provider (`--no-refresh`). */
  noRefresh?: boolean;
  /** Refresh whatever the expiry (`auth refresh --force`). */
  force?: boolean;
  /** Whether the MFA guard applies (token and exec hand out tokens; refresh does not). */
  guarded: boolean;
  /** A still-valid token is handed out when the provider cannot be reached (flows/refresh.ts). */
  serveValidOnOutage?: boolean;
}

export interface GetTokenResult {
  config: Config;
  profile: ResolvedProfile;
  credential: Credential;
  refreshed: boolean;
}

export async function getToken(req: GetTokenRequest, deps: Deps): Promise<GetTokenResult> {
  const { config, profile } = loadProfile(deps, { profile: req.profile });
  if (req.guarded) await requireUnlocked(profile, deps);
  const store = await storeFor(profile, deps);
  const secret = profile.clientSecretEnv ? await clientSecretFor(profile, deps) : undefined;
  const idToken = Boolean(req.idToken);
  const { credential, refreshed } = await ensureFreshCredential({
    profile: profile.name,
    config,
    resolved: profile,
    store,
    minTtlMs: req.minTtlMs ?? DEFAULT_MIN_TTL_S * 1000,
    ...(req.force ? { force: true } : {}),
    ...(req.noRefresh ? { noRefresh: true } : {}),
    ...(idToken ? { idToken: true } : {}),
    ...(secret ? { clientSecret: secret } : {}),
    ...(req.serveValidOnOutage ? { serveValidOnOutage: true } : {}),
    deps,
  });
  if (idToken) {
    if (!credential.idToken) {
      throw new AuthError('AUTH_NOT_LOGGED_IN', `Profile ${profile.name} holds no ID token (the sign-in did not use the openid scope).`);
    }
    // A refresh answer may carry no new ID token (OpenID Connect Core §12.2 makes it optional):
    // the old one is kept, and it is never printed once expired.
    const expired = expiredToken(credential, deps.clock.now(), true);
    if (expired) throw expiredError(profile.name, expired === 'ID token' ? 'the ID token has expired and the provider sent no new one with the refresh' : `the ${expired} has expired`);
  }
  return { config, profile, credential, refreshed };
}
