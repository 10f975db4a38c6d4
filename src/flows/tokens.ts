import { decodeJwt } from 'jose';
import type * as client from 'openid-client';
import { AuthError } from '../errors.js';
import type { Account, Credential, CredentialKind } from '../domain/credential.js';

type TokenResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

/** When `expires_in` is absent we assume a short life so the token is re-checked soon (docs/security.md R36, policy). */
const DEFAULT_LIFETIME_MS = 60 * 60 * 1000;
/** A provider's expires_in is capped at a year: 1e300 s would make the stored expiry an invalid date. */
const MAX_TOKEN_LIFETIME_S = 365 * 24 * 60 * 60;
const MAX_ID_TOKEN_AGE_S = 10 * 60;
const CLOCK_TOLERANCE_S = 60;

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Why a token cannot be used as a Bearer credential, or undefined when it can. A
 * CR/LF would become an extra header in `curl -H "$(auth token --format header)"`,
 * and an escape sequence would reach the terminal; the token itself is never shown.
 */
export function bearerTokenProblem(token: string): string | undefined {
  if (B64TOKEN.test(token)) return undefined;
  if (token === '') return 'it is empty';
  if (/[^\x21-\x7e]/.test(token)) return 'it contains spaces, control or non-ASCII characters';
  return 'it contains characters outside RFC 6750\'s b64token set';
}

/**
 * Checks openid-client leaves to the client (docs/security.md R38, R40): no audience
 * beyond the client_id, and an `iat` that is neither in the future nor stale.
 */
export function checkIdTokenPolicy(claims: client.IDToken, clientId: string, nowMs: number): void {
  checkIdTokenAudience(claims, clientId);
  const now = Math.floor(nowMs / 1000);
  if (typeof claims.iat !== 'number' || claims.iat > now + CLOCK_TOLERANCE_S || claims.iat < now - MAX_ID_TOKEN_AGE_S) {
    throw new AuthError('AUTH_PROVIDER_ERROR', 'The ID token has an issue time (iat) outside the accepted window; check this computer\'s clock.');
  }
}

/** R38 (policy): the ID token is for this client alone; applied to refreshed ID tokens too. */
function checkIdTokenAudience(claims: client.IDToken, clientId: string): void {
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (aud.some((a) => a !== clientId)) {
    throw new AuthError('AUTH_PROVIDER_ERROR', 'The ID token is also addressed to other clients, which auth does not accept.');
  }
  if (claims.azp !== undefined && claims.azp !== clientId) {
    throw new AuthError('AUTH_PROVIDER_ERROR', 'The ID token was issued to a different client (azp).');
  }
}

export function accountFromClaims(claims: Record<string, unknown> | undefined): Account | undefined {
  if (!claims) return undefined;
  const pick = (k: string) => (typeof claims[k] === 'string' && claims[k] !== '' ? (claims[k] as string) : undefined);
  const account: Account = {};
  const sub = pick('sub'); if (sub) account.sub = sub;
  const email = pick('email'); if (email) account.email = email;
  const name = pick('name'); if (name) account.name = name;
  const username = pick('preferred_username') ?? pick('login'); if (username) account.username = username;
  return Object.keys(account).length ? account : undefined;
}

/**
 * The account after a refresh: the new ID token's claims win, and display fields it
 * lacks (taken from userinfo at login, docs/security.md R90) are kept for the same subject.
 */
function mergeAccount(previous: Account | undefined, next: Account | undefined): Account | undefined {
  if (!next) return previous;
  if (!previous || (previous.sub !== undefined && next.sub !== undefined && previous.sub !== next.sub)) return next;
  return { ...previous, ...next };
}

export function credentialFromTokens(
  tokens: TokenResponse,
  ctx: { kind: CredentialKind; issuer: string; clientId: string; now: number; requestedScopes: string[]; resources: string[]; previous?: Credential },
): Credential {
  const tokenType = String(tokens.token_type ?? 'bearer');
  if (tokenType.toLowerCase() !== 'bearer') {
    // docs/security.md R64: a DPoP-bound token must not be handed out as a Bearer token.
    throw new AuthError('AUTH_PROVIDER_ERROR', `The provider issued a ${tokenType} token; auth only handles Bearer tokens.`);
  }
  // The response's own number (oauth4webapi has checked it is a non-negative number): R36 stores
  // received_at + expires_in. (openid-client's expiresIn() counts down from the response, in whole seconds.)
  // Capped at MAX_TOKEN_LIFETIME_S: a provider's absurd number must not break the stored expiry or `auth status`.
  const expiresIn = typeof tokens.expires_in === 'number' && !Number.isNaN(tokens.expires_in) ? Math.min(tokens.expires_in, MAX_TOKEN_LIFETIME_S) : undefined;
  // Tokens outside RFC 6750's b64token set are refused before anything is stored (README, security model).
  // Only new tokens are checked; a refresh token kept from before was checked when it arrived.
  checkIssuedToken(tokens.access_token, 'an access token', ctx.previous);
  if (tokens.refresh_token !== undefined) checkIssuedToken(tokens.refresh_token, 'a refresh token', ctx.previous);
  const cred: Credential = {
    kind: ctx.kind,
    accessToken: tokens.access_token,
    tokenType: 'Bearer',
    // RFC 6749 §5.1: an absent scope means the requested one was granted (R19 keeps what was granted).
    scope: typeof tokens.scope === 'string' ? tokens.scope : ctx.previous?.scope ?? ctx.requestedScopes.join(' '),
    issuer: ctx.issuer,
    clientId: ctx.clientId,
    obtainedAt: ctx.now,
  };
  // R55: a rotated refresh token replaces the old one; none in the response keeps the old one.
  const refreshToken = tokens.refresh_token ?? ctx.previous?.refreshToken;
  if (refreshToken) cred.refreshToken = refreshToken;
  // Missing expires_in (R36, policy): with a refresh token, assume a one-hour life so the
  // token is renewed regularly; without one (GitHub OAuth apps, static keys) the expiry is
  // unknown and the token is handed out until the provider rejects it. The access token
  // itself is never decoded to guess (R37).
  if (expiresIn !== undefined) cred.expiresAt = ctx.now + expiresIn * 1000;
  else if (refreshToken || ctx.kind === 'client_credentials') cred.expiresAt = ctx.now + DEFAULT_LIFETIME_MS;
  const claims = tokens.claims();
  if (tokens.id_token) {
    cred.idToken = tokens.id_token;
    // `exp` of the validated claims: `auth token --id-token` refreshes on it (store/freshness.ts).
    if (typeof claims?.exp === 'number') cred.idTokenExpiresAt = claims.exp * 1000;
  } else if (ctx.previous?.idToken) {
    // No new ID token in a refresh answer (OpenID Connect Core §12.2): the old one stays, with its own expiry.
    cred.idToken = ctx.previous.idToken;
    if (ctx.previous.idTokenExpiresAt !== undefined) cred.idTokenExpiresAt = ctx.previous.idTokenExpiresAt;
  }
  // A refresh (ctx.previous) is not checked by the login path's checkIdTokenPolicy: apply the audience part here.
  if (claims && ctx.previous && tokens.id_token) checkIdTokenAudience(claims, ctx.clientId);
  if (claims && ctx.previous?.idToken && tokens.id_token) checkRefreshedIdentity(ctx.previous, claims);
  const account = mergeAccount(ctx.previous?.account, accountFromClaims(claims as Record<string, unknown> | undefined));
  if (account) cred.account = account;
  if (ctx.resources.length) cred.resources = ctx.resources;
  return cred;
}

function checkIssuedToken(token: unknown, which: string, previous: Credential | undefined): void {
  const problem = typeof token === 'string' ? bearerTokenProblem(token) : 'it is not a string';
  if (!problem) return;
  const outcome = previous ? 'the stored credential was kept as it was' : 'nothing was stored';
  throw new AuthError('AUTH_PROVIDER_ERROR', `The provider issued ${which} that auth cannot use safely (${problem}), so ${outcome}.`, {
    hint: 'A Bearer token must consist of letters, digits and - . _ ~ + / (RFC 6750 §2.1); report this to the provider\'s administrator.',
  });
}

/** OpenID Connect Core §12.2 / docs/security.md R43: a refreshed ID token keeps the same identity. */
function checkRefreshedIdentity(previous: Credential, claims: client.IDToken): void {
  const before = decodePayload(previous.idToken!);
  if (!before) return;
  const after = claims as Record<string, unknown>;
  const same = (k: string) => JSON.stringify(before[k]) === JSON.stringify(after[k]);
  // auth_time, when present, must still be the original authentication's; a nonce, when
  // present, must be the original one (a refresh request sends none).
  const authTimeChanged = after.auth_time !== undefined && before.auth_time !== undefined && !same('auth_time');
  const nonceChanged = after.nonce !== undefined && !same('nonce');
  if (!same('iss') || !same('sub') || !same('aud') || (before.azp !== undefined && !same('azp')) || authTimeChanged || nonceChanged) {
    throw new AuthError('AUTH_SESSION_ENDED', 'The provider returned an ID token for a different identity during refresh; the session was ended for safety.', {
      hint: 'Run `auth login` to sign in again.',
    });
  }
}

/** Reads the payload of a JWT we validated earlier (display and continuity only). */
function decodePayload(jwt: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(jwt) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
