import type * as client from 'openid-client';
import type { ServerFetch } from '../server-fetch.js';

/**
 * GitHub's OAuth endpoints (docs.github.com "Authorizing OAuth apps") differ
 * from RFC 6749 / RFC 8628 on the wire; this adapter sits between openid-client
 * and the network so the flows see a standard server:
 *
 * - the token and device endpoints answer `application/x-www-form-urlencoded`
 *   unless asked for JSON: we always send `Accept: application/json` and still
 *   convert a form body if one comes back;
 * - errors (`authorization_pending`, `slow_down`, `bad_verification_code`, …)
 *   arrive with HTTP 200: they become the 400/401 error responses of RFC 6749
 *   §5.2, with GitHub's own codes mapped to the standard ones so "session ended"
 *   and "denied" are recognised (the original code stays in the description);
 * - granted scopes are comma-separated: made space-separated (RFC 6749 §3.3);
 * - the account comes from the REST `/user` endpoint, which has no `sub`: the
 *   numeric user id becomes `sub`, `login` stays as the username.
 */

/** GitHub's error codes → RFC 6749 §5.2 / RFC 8628 §3.5 codes. */
const ERROR_CODES: Record<string, string> = {
  bad_verification_code: 'invalid_grant',
  bad_refresh_token: 'invalid_grant',
  incorrect_device_code: 'invalid_grant',
  redirect_uri_mismatch: 'invalid_grant',
  incorrect_client_credentials: 'invalid_client',
  device_flow_disabled: 'unauthorized_client',
  unverified_user_email: 'access_denied',
  unsupported_grant_type: 'unsupported_grant_type',
};

const NUMERIC = ['expires_in', 'interval', 'refresh_token_expires_in'];

export function githubQuirks(metadata: client.ServerMetadata, next: ServerFetch): ServerFetch {
  const oauthEndpoints = new Set([metadata.token_endpoint, metadata.device_authorization_endpoint].filter(Boolean).map((u) => normalize(String(u))));
  const userEndpoint = metadata.userinfo_endpoint ? normalize(metadata.userinfo_endpoint) : undefined;
  return async (url, init) => {
    const target = normalize(url);
    if (oauthEndpoints.has(target)) {
      const res = await next(url, { ...init, headers: { ...init.headers, accept: 'application/json' } });
      return standardOAuthResponse(res);
    }
    if (target === userEndpoint) {
      // docs.github.com REST: the versioned media type and API version header.
      const res = await next(url, { ...init, headers: { ...init.headers, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' } });
      return userAsClaims(res);
    }
    return next(url, init);
  };
}

function normalize(url: string): string {
  try {
    const u = new URL(url);
    u.search = '';
    return u.href;
  } catch {
    return url;
  }
}

async function standardOAuthResponse(res: Response): Promise<Response> {
  if (res.status !== 200) return res;
  const text = await res.text();
  const type = (res.headers.get('content-type') ?? '').toLowerCase();
  let body: Record<string, unknown> | undefined;
  if (type.includes('application/x-www-form-urlencoded') || (!type.includes('json') && /^[\w.%+-]+=/.test(text))) {
    body = Object.fromEntries(new URLSearchParams(text));
  } else {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = undefined;
    }
  }
  if (!body) return new Response(text, { status: res.status, headers: res.headers });
  for (const key of NUMERIC) {
    if (typeof body[key] === 'string' && /^\d+$/.test(body[key] as string)) body[key] = Number(body[key]);
  }
  let status = 200;
  if (typeof body.error === 'string' && body.error) {
    const original = body.error;
    const code = ERROR_CODES[original] ?? original;
    status = code === 'invalid_client' ? 401 : 400;
    const description = typeof body.error_description === 'string' ? body.error_description : '';
    body.error = code;
    if (code !== original) body.error_description = `${description}${description ? ' ' : ''}(GitHub: ${original})`;
  } else if (typeof body.scope === 'string') {
    body.scope = body.scope.split(/[,\s]+/).filter(Boolean).join(' ');
  }
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
}

async function userAsClaims(res: Response): Promise<Response> {
  if (res.status !== 200) return res;
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return new Response('', { status: 502 });
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return new Response('', { status: 502 });
  const user = body as Record<string, unknown>;
  const claims: Record<string, unknown> = {};
  if (typeof user.id === 'number' || (typeof user.id === 'string' && user.id)) claims.sub = String(user.id);
  if (typeof user.login === 'string') claims.preferred_username = user.login;
  if (typeof user.name === 'string' && user.name) claims.name = user.name;
  if (typeof user.email === 'string' && user.email) claims.email = user.email;
  return new Response(JSON.stringify(claims), { status: 200, headers: { 'content-type': 'application/json' } });
}
