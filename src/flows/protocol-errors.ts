import { AuthError, isAbortError, interrupted, type ErrorCode } from '../errors.js';
import { sanitize } from '../ui/text.js';
import { ProviderAnswerError } from './bounded-fetch.js';

/**
 * The one place that turns openid-client / oauth4webapi / fetch failures into
 * AuthErrors. Library errors carry response bodies and callback parameters in
 * `cause` (docs/security.md R85), so only the OAuth `error` code, a sanitised
 * `error_description` and the library's fixed message text are ever printed.
 * Failures are told apart by the library's error `code` and the structured
 * details in its `cause` (which check failed), never by message text.
 */
interface OAuthLike { error?: unknown; error_description?: unknown; status?: unknown; code?: unknown }

/**
 * Which library check failed, from oauth4webapi's error `code` and the details
 * it attaches as `cause` (openid-client wraps those errors once more). For
 * classifying: `callback`, `body` and `claims` hold what the server sent
 * (codes, tokens) and are never printed (R85) — except an ID token's `iss`, a
 * public identifier.
 */
export interface LibraryCheck {
  /** oauth4webapi's code, e.g. OAUTH_INVALID_RESPONSE, OAUTH_JWT_CLAIM_COMPARISON_FAILED. */
  code: string;
  /** The JWT claim whose check failed (ID tokens). */
  claim?: string;
  /** The JSON attribute whose check failed (discovery metadata). */
  attribute?: string;
  /** The authorization response the library refused before any code was exchanged. */
  callback?: URLSearchParams;
  /** The JSON body the library refused. */
  body?: Record<string, unknown>;
  /** The claims of the JWT the library refused. */
  claims?: Record<string, unknown>;
  /** The value the failed check expected (our own configuration or transaction, e.g. the issuer or the nonce). */
  expected?: unknown;
}

export function libraryCheck(e: unknown): LibraryCheck | undefined {
  let code: string | undefined;
  let details: Record<string, unknown> | undefined;
  let x: unknown = e;
  for (let depth = 0; depth < 4 && x !== null && typeof x === 'object'; depth++) {
    if (x instanceof Error) {
      const c = (x as OAuthLike).code;
      if (!code && typeof c === 'string' && c.startsWith('OAUTH_')) code = c;
      x = (x as { cause?: unknown }).cause;
      continue;
    }
    if (isPlainObject(x)) details = x;
    break;
  }
  if (!code) return undefined;
  const check: LibraryCheck = { code };
  if (!details) return check;
  if (typeof details.claim === 'string') check.claim = details.claim;
  if (typeof details.attribute === 'string') check.attribute = details.attribute;
  if (details.parameters instanceof URLSearchParams) check.callback = details.parameters;
  if (isPlainObject(details.body)) check.body = details.body;
  if (isPlainObject(details.claims)) check.claims = details.claims;
  if (details.expected !== undefined) check.expected = details.expected;
  return check;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function oauthErrorCode(e: unknown): string | undefined {
  const err = e as OAuthLike;
  return e instanceof Error && typeof err.error === 'string' ? err.error : undefined;
}

function networkReason(e: Error): string | undefined {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (e.name === 'TimeoutError' || cause?.code === 'UND_ERR_CONNECT_TIMEOUT') return 'the request timed out';
  if (cause?.code && /^(E[A-Z]+|UND_ERR_\w+|ERR_TLS\w*|[A-Z_]*CERT[A-Z_]*|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)$/.test(cause.code)) {
    return cause.code.includes('CERT') || cause.code.startsWith('ERR_TLS')
      ? `TLS certificate check failed (${cause.code}); if your network uses a corporate CA, point NODE_EXTRA_CA_CERTS at it`
      : `${cause.code}${cause.message && !cause.message.includes(cause.code) ? ` ${sanitize(cause.message, 120)}` : ''}`;
  }
  if (isFetchFailure(e)) return sanitize(cause?.message ?? 'network error', 160);
  return undefined;
}

/**
 * fetch's own failure (undici: a TypeError carrying the underlying error as
 * `cause`), as opposed to the library's argument checks, which are TypeErrors
 * with a `code`, and to programming errors, which have no cause.
 */
export function isFetchFailure(e: unknown): boolean {
  return e instanceof TypeError && typeof (e as OAuthLike).code !== 'string' && (e as { cause?: unknown }).cause instanceof Error;
}

/** An ID-token claim check that failed (OIDC Core §3.1.3.7), as a sentence; undefined for other failures. */
function idTokenClaimFailure(check: LibraryCheck | undefined): string | undefined {
  if (check?.code !== 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' || !check.claim) return undefined;
  if (check.claim === 'iss') {
    // The issuer is a public identifier, not a secret: showing both makes a trailing-slash mismatch visible.
    const got = typeof check.claims?.iss === 'string' ? ` ${sanitize(check.claims.iss, 200)}` : '';
    const want = typeof check.expected === 'string' ? ` ${sanitize(check.expected, 200)}` : '';
    return `the ID token's issuer ("iss" claim)${got} is not the expected issuer${want}, so the ID token was not accepted`;
  }
  return `the ID token's "${sanitize(check.claim, 40)}" claim does not have the expected value, so the ID token was not accepted`;
}

export function fromProtocolError(e: unknown, action: string, code: ErrorCode = 'AUTH_PROVIDER_ERROR'): AuthError {
  // Our fetch layer's limits (too slow, too large), bare or wrapped by openid-client: named with the action.
  const limit = e instanceof ProviderAnswerError ? e : (e as { cause?: unknown } | undefined)?.cause;
  if (limit instanceof ProviderAnswerError) {
    return new AuthError(limit.code, `${action} failed: ${limit.what}.`, limit.hint === undefined ? {} : { hint: limit.hint });
  }
  if (e instanceof AuthError) return e;
  if (isAbortError(e)) return interrupted();
  // Our own errors from inside a fetch (Ctrl-C through deps.signal, a refused discovery redirect)
  // arrive wrapped by openid-client ("something went wrong"); they already say what happened.
  const wrapped = (e as { cause?: unknown } | undefined)?.cause;
  if (wrapped instanceof AuthError) return wrapped.code === 'AUTH_INTERRUPTED' ? interrupted() : wrapped;
  if (!(e instanceof Error)) return new AuthError('AUTH_FAILED', `${action} failed.`);
  const oauth = oauthErrorCode(e);
  if (oauth) {
    const err = e as OAuthLike;
    const desc = typeof err.error_description === 'string' && err.error_description ? `: ${sanitize(err.error_description)}` : '';
    return new AuthError(code, `${action} failed: the provider answered ${sanitize(oauth, 80)}${desc}.`);
  }
  const net = networkReason(e);
  if (net) return new AuthError('AUTH_NETWORK', `${action} failed: could not reach the provider (${net}).`, {
    hint: 'Check your network connection, proxy settings (HTTPS_PROXY, NO_PROXY) and the issuer URL.',
  });
  const check = libraryCheck(e);
  const claim = idTokenClaimFailure(check);
  if (claim) {
    return new AuthError(code, `${action} failed: ${claim}.`, check?.claim === 'iss'
      ? { hint: 'Check that the issuer is configured exactly as the provider documents it (including any trailing slash); if it is, the provider is misconfigured.' }
      : {});
  }
  const inner = (e as { cause?: unknown }).cause;
  const detail = inner instanceof Error && inner.message && inner.message !== e.message ? ` (${sanitize(inner.message, 200)})` : '';
  if (check?.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || check?.code === 'OAUTH_RESPONSE_IS_NOT_JSON') {
    const status = (inner as { status?: number } | undefined)?.status;
    return new AuthError(code, `${action} failed: the provider sent an unexpected response${typeof status === 'number' ? ` (HTTP ${status})` : ''}.`);
  }
  return new AuthError(code, `${action} failed: ${sanitize(e.message, 200)}${detail}.`);
}
