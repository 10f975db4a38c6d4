import { AuthError, isAbortError, interrupted, type ErrorCode } from '../errors.js';
import { sanitize } from '../ui/text.js';

/**
 * The one place that turns openid-client / oauth4webapi / fetch failures into
 * AuthErrors. Library errors carry response bodies and callback parameters in
 * `cause` (SECURITY R85), so only the OAuth `error` code, a sanitised
 * `error_description` and the library's fixed message text are ever used.
 */
interface OAuthLike { error?: unknown; error_description?: unknown; status?: unknown; code?: unknown }

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
  if (e instanceof TypeError && /fetch failed/.test(e.message)) return sanitize(cause?.message ?? 'network error', 160);
  return undefined;
}

export function fromProtocolError(e: unknown, action: string, code: ErrorCode = 'AUTH_PROVIDER_ERROR'): AuthError {
  if (e instanceof AuthError) return e;
  if (isAbortError(e)) return interrupted();
  // Ctrl-C (deps.signal's reason) during a request or a retry wait arrives wrapped by openid-client ("something went wrong").
  if ((e as { cause?: unknown } | undefined)?.cause instanceof AuthError && (e as { cause: AuthError }).cause.code === 'AUTH_INTERRUPTED') return interrupted();
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
  const inner = (e as { cause?: unknown }).cause;
  const detail = inner instanceof Error && inner.message && inner.message !== e.message ? ` (${sanitize(inner.message, 200)})` : '';
  const libCode = typeof (e as OAuthLike).code === 'string' ? (e as OAuthLike).code as string : '';
  if (libCode === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || libCode === 'OAUTH_RESPONSE_IS_NOT_JSON') {
    const status = (inner as { status?: number } | undefined)?.status;
    return new AuthError(code, `${action} failed: the provider sent an unexpected response${typeof status === 'number' ? ` (HTTP ${status})` : ''}.`);
  }
  return new AuthError(code, `${action} failed: ${sanitize(e.message, 200)}${detail}.`);
}
