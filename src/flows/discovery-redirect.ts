import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import type { ServerFetch } from '../providers/server-fetch.js';
import { redactUrl } from '../ui/log.js';

/**
 * Some servers publish their discovery document only behind a redirect (e.g.
 * `/.well-known/openid-configuration` → the same path with a trailing slash).
 * openid-client asks with `redirect: 'manual'`, so a 3xx would fail discovery.
 * This customFetch follows redirects for the discovery GET only — the one URL
 * derived from the issuer — within the issuer's origin and at most
 * MAX_DISCOVERY_REDIRECTS hops; the document's `issuer` is then checked exactly
 * as always (docs/security.md R01). A redirect to another origin is refused without
 * contacting it. Every other request (token, revocation, device, PAR, user
 * info, JWKS) still treats a 3xx as an error (docs/security.md R04).
 */
const MAX_DISCOVERY_REDIRECTS = 3;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The URL openid-client requests for an issuer (OpenID Connect Discovery 1.0 §4.1, as oauth4webapi builds it). */
function discoveryUrl(issuer: string): string {
  const url = new URL(issuer);
  url.pathname = `${url.pathname}/.well-known/openid-configuration`.replace('//', '/');
  return url.href;
}

export function followDiscoveryRedirects(next: ServerFetch, issuer: string, deps: Pick<Deps, 'log'>): ServerFetch {
  const start = discoveryUrl(issuer);
  return async (url, init) => {
    const method = (init.method ?? 'GET').toUpperCase();
    if (url !== start || method !== 'GET') return next(url, init);
    const origin = new URL(start).origin;
    const seen = new Set([start]);
    let current = start;
    for (let hops = 0; ; hops++) {
      const res = await next(current, init);
      const location = res.headers.get('location');
      if (!REDIRECT_STATUSES.has(res.status) || location === null) return res;
      await res.body?.cancel().catch(() => undefined);
      let target: URL;
      try {
        target = new URL(location, current);
      } catch {
        throw redirectError(issuer, `answered HTTP ${res.status} with an invalid Location`);
      }
      if (target.origin !== origin) {
        throw redirectError(issuer, `was redirected from ${origin} to another origin, ${target.origin}, which auth does not follow`,
          'The discovery document must come from the issuer\'s own origin. Check the issuer URL; if the provider has moved, configure its new issuer.');
      }
      target.hash = '';
      if (seen.has(target.href)) throw redirectError(issuer, `is redirected in a loop (HTTP ${res.status} back to ${redactUrl(target.href)})`);
      if (hops >= MAX_DISCOVERY_REDIRECTS) throw redirectError(issuer, `was redirected more than ${MAX_DISCOVERY_REDIRECTS} times`);
      deps.log.debug(`discovery: following HTTP ${res.status} to ${redactUrl(target.href)}`);
      seen.add(target.href);
      current = target.href;
    }
  };
}

function redirectError(issuer: string, what: string, hint = 'Check the issuer URL exactly as the provider documents it; the provider\'s discovery document may be misconfigured.'): AuthError {
  return new AuthError('AUTH_PROVIDER_ERROR', `Discovery at ${issuer} failed: the request for its metadata ${what}.`, { hint });
}
