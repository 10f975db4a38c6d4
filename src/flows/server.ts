import * as client from 'openid-client';
import { isLoopbackHttp } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { fromProtocolError, libraryCheck } from './protocol-errors.js';
import { followDiscoveryRedirects } from './discovery-redirect.js';
import { readDiscoveryCache, writeDiscoveryCache } from './discovery-cache.js';
import { checkEndpoints } from './endpoints.js';
import { retryingFetch } from './retry.js';
import { httpTimeoutMs } from './bounded-fetch.js';
import { checkDiscoveredIssuer, issuerMismatchHint, wrapFetch, type ServerDescription } from '../providers/resolve.js';
import type { ServerFetch } from '../providers/server-fetch.js';

/**
 * Builds the openid-client Configuration for an issuer: discovery pinned to the
 * configured issuer (R01, never a /.well-known/ URL), https everywhere except
 * loopback test servers (R02), ID-token signatures checked against the JWKS
 * (R42, `enableNonRepudiationChecks`), and our fetch (debug logging, proxies).
 */
export interface ServerOptions {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** Client authentication other than a secret (private_key_jwt for service accounts); wins over clientSecret. */
  clientAuth?: client.ClientAuth;
  /** How to reach the provider: providers/resolve.ts describeServer, from the config the caller already read. */
  server: ServerDescription;
  /** Use discovery metadata cached on disk when fresh (flows/discovery-cache.ts, docs/security.md R07). */
  useCache?: boolean;
}


export async function connectServer(options: ServerOptions, deps: Deps): Promise<client.Configuration> {
  const issuerUrl = new URL(options.issuer);
  const insecureLoopback = isLoopbackHttp(issuerUrl);
  // Presets without discovery (GitHub) and profiles naming their endpoints bring explicit metadata (docs/design.md §8).
  const { server } = options;
  const secretAuth = server.tokenEndpointAuth === 'client_secret_post' ? client.ClientSecretPost : client.ClientSecretBasic;
  const auth = options.clientAuth ?? (options.clientSecret ? secretAuth(options.clientSecret) : client.None());
  const baseFetch: ServerFetch = (url, init) => deps.fetch(url, { ...init, signal: anySignal(init.signal, deps.signal) } as RequestInit);
  // Our fetch layer owns the per-request deadline (flows/bounded-fetch.ts), so its message is the one users
  // see; openid-client's own timeout is only a backstop a little later.
  const libraryTimeout = Math.ceil(httpTimeoutMs(deps.env) / 1000) + 5;
  let config: client.Configuration;
  // Entra ID multi-tenant documents are not cached: openid-client marks them at discovery (to check each
  // ID token's iss against its tid), and a Configuration rebuilt from cached metadata would lose that mark.
  const cached = !server.metadata && !server.acceptIssuer && options.useCache ? readDiscoveryCache(options.issuer, deps) : undefined;
  if (server.metadata) {
    checkEndpoints(server.metadata);
    config = new client.Configuration(server.metadata, options.clientId, options.clientSecret ? { client_secret: options.clientSecret } : undefined, auth);
    // checkEndpoints allowed plain http only for loopback test servers (R02).
    if (Object.values(server.metadata).some((v) => typeof v === 'string' && v.startsWith('http:'))) client.allowInsecureRequests(config);
  } else if (cached) {
    config = new client.Configuration(cached, options.clientId, options.clientSecret ? { client_secret: options.clientSecret } : undefined, auth);
    if (insecureLoopback) client.allowInsecureRequests(config);
  } else try {
    config = await client.discovery(issuerUrl, options.clientId, options.clientSecret ? { client_secret: options.clientSecret } : undefined, auth, {
      execute: insecureLoopback ? [client.allowInsecureRequests] : [],
      // Discovery is a GET: bounded retries on 502/503/504 and transient network errors (flows/retry.ts),
      // and same-origin redirects followed for the discovery document only (flows/discovery-redirect.ts).
      [client.customFetch]: followDiscoveryRedirects(retryingFetch(baseFetch, deps), options.issuer, deps),
      timeout: libraryTimeout,
    });
  } catch (e) {
    const check = libraryCheck(e);
    // R01: openid-client's own issuer comparison (it normalises URLs; ours below is exact).
    if (check?.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && check.attribute === 'issuer') {
      throw new AuthError('AUTH_PROVIDER_ERROR', `Discovery at ${options.issuer} returned metadata for a different issuer, so it was not used.`, {
        hint: issuerMismatchHint(options.issuer, check.body?.issuer) ?? 'Check the issuer URL exactly as the provider documents it (including any trailing slash).',
      });
    }
    if (check?.code === 'OAUTH_INVALID_RESPONSE' && check.body && typeof check.body.issuer !== 'string') {
      throw new AuthError('AUTH_PROVIDER_ERROR', `Discovery at ${options.issuer} returned a document without an issuer, so it was not used.`, {
        hint: 'Check the issuer URL exactly as the provider documents it; it must lead to an OpenID Connect discovery document.',
      });
    }
    throw fromProtocolError(e, `Discovery at ${options.issuer}`);
  }
  config.timeout = libraryTimeout;
  if (!server.metadata) checkDiscoveredIssuer(options.issuer, config.serverMetadata().issuer, server.acceptIssuer);
  // The preset's wire-quirk adapter (GitHub) wraps our fetch; the flows never see the quirks.
  // Under it, bounded retries where a request can safely be sent again (flows/retry.ts; never a sent code or refresh, R32/R59).
  config[client.customFetch] = wrapFetch(server, config.serverMetadata(), retryingFetch(baseFetch, deps, { tokenEndpoint: config.serverMetadata().token_endpoint }));
  checkEndpoints(config.serverMetadata());
  if (!server.metadata && !cached) writeDiscoveryCache(options.issuer, config.serverMetadata(), deps);
  client.enableNonRepudiationChecks(config);
  return config;
}

function anySignal(a: AbortSignal | null | undefined, b: AbortSignal): AbortSignal {
  return a ? AbortSignal.any([a, b]) : b;
}
