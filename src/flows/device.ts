import * as client from 'openid-client';
import { AuthError } from '../errors.js';
import { sanitize } from '../ui/text.js';
import { ProviderAnswerError } from './bounded-fetch.js';
import { fromProtocolError, isFetchFailure, oauthErrorCode } from './protocol-errors.js';

type TokenResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

/**
 * Device authorization grant (RFC 8628). openid-client polls at `interval`
 * (5 s when absent), adds 5 s on every slow_down and honours Retry-After
 * (docs/security.md R48, R49); this wrapper validates the response (R46), stops at
 * `expires_in` (R50), backs off on network errors (R51) and never hands the
 * device code to anyone (R52). Never writes to a stream.
 */
export interface DeviceOptions {
  config: client.Configuration;
  scopes: string[];
  resources: string[];
  signal: AbortSignal;
  now(): number;
}

interface DeviceCodeInfo {
  verificationUri: string;
  verificationUriComplete?: string;
  userCode: string;
  expiresIn: number;
}

export interface DeviceCallbacks {
  onUserCode(info: DeviceCodeInfo): void | Promise<void>;
  onWaiting(): void;
  onNetworkRetry?(delaySeconds: number): void;
}

/** Never poll more often than once a second, whatever interval the provider asks for. */
const MIN_POLL_INTERVAL_S = 1;
/** A device code is good for 30 minutes at most here; real providers allow 5 to 15. */
const MAX_DEVICE_EXPIRES_S = 30 * 60;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** R46: verification URIs are absolute https URLs (plain http only for loopback test servers). */
function checkHttpsUrl(value: unknown, field: string): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new AuthError('AUTH_PROVIDER_ERROR', `The provider's device authorization response has an invalid ${field}, so the sign-in was not started.`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new AuthError('AUTH_INSECURE', `The provider's ${field} is not an https URL, so it was not shown and the sign-in was not started.`);
  }
  if (url.username || url.password) {
    throw new AuthError('AUTH_PROVIDER_ERROR', `The provider's ${field} contains credentials, so it was not shown.`);
  }
  return url.href;
}

export async function runDeviceFlow(o: DeviceOptions, cb: DeviceCallbacks): Promise<TokenResponse> {
  const params = new URLSearchParams({ scope: o.scopes.join(' ') });
  for (const r of o.resources) params.append('resource', r);
  let response: client.DeviceAuthorizationResponse;
  try {
    response = await client.initiateDeviceAuthorization(o.config, params);
  } catch (e) {
    throw fromProtocolError(e, 'Starting the device sign-in');
  }
  // R46 (openid-client checks the types; the values are ours to judge).
  if (!(response.expires_in > 0)) throw new AuthError('AUTH_PROVIDER_ERROR', 'The provider sent a device code without a valid expiry (expires_in).');
  if (response.interval !== undefined && !(response.interval > 0)) {
    throw new AuthError('AUTH_PROVIDER_ERROR', 'The provider asked for a polling interval that is not a positive number of seconds.');
  }
  if (!sanitize(response.user_code).trim()) throw new AuthError('AUTH_PROVIDER_ERROR', 'The provider sent an empty user code.');
  // The provider's numbers are clamped, not trusted: an interval of 0.001 s would poll ~200 times a
  // second (RFC 8628 sets no floor; ours is MIN_POLL_INTERVAL_S), and an expires_in of 1e12 s overflows
  // the expiry timer. RFC 8628 §3.2's default of 5 s still applies when no interval is sent.
  const expiresIn = Math.min(response.expires_in, MAX_DEVICE_EXPIRES_S);
  const clamped: client.DeviceAuthorizationResponse = { ...response, expires_in: expiresIn, interval: Math.max(response.interval ?? 5, MIN_POLL_INTERVAL_S) };
  const info: DeviceCodeInfo = {
    verificationUri: checkHttpsUrl(response.verification_uri, 'verification_uri'),
    userCode: response.user_code,
    expiresIn,
  };
  if (response.verification_uri_complete !== undefined) {
    info.verificationUriComplete = checkHttpsUrl(response.verification_uri_complete, 'verification_uri_complete');
  }
  await cb.onUserCode(info);
  cb.onWaiting();

  const deadline = o.now() + expiresIn * 1000;
  const tokenEndpoint = normalizeUrl(o.config.serverMetadata().token_endpoint);
  // openid-client raises its interval internally on slow_down; when a network error makes us
  // restart its poll loop we must carry that on, so the token responses are watched here.
  let interval = clamped.interval!;
  const baseFetch = o.config[client.customFetch];
  o.config[client.customFetch] = async (url, init) => {
    const res = await (baseFetch ?? fetch)(url, init);
    if (res.status === 400 && normalizeUrl(url) === tokenEndpoint) {
      const body = (await res.clone().json().catch(() => undefined)) as { error?: unknown } | undefined;
      if (body?.error === 'slow_down') interval += 5;
    }
    return res;
  };
  const tokenParams: Record<string, string> = {};
  if (o.resources.length === 1) tokenParams.resource = o.resources[0]!;
  let current: client.DeviceAuthorizationResponse = clamped;
  let networkFailures = 0;
  try {
    for (;;) {
      const remaining = deadline - o.now();
      if (remaining <= 0) throw networkFailures ? unreachable() : expired();
      // R50: the poll loop ends at expires_in even if the server keeps answering authorization_pending.
      const expiry = AbortSignal.timeout(remaining);
      try {
        return await client.pollDeviceAuthorizationGrant(o.config, current, tokenParams, { signal: AbortSignal.any([o.signal, expiry]) });
      } catch (e) {
        if (o.signal.aborted) throw fromProtocolError(o.signal.reason ?? e, 'Device sign-in');
        const code = oauthErrorCode(e);
        const description = (e as { error_description?: unknown }).error_description;
        const detail = typeof description === 'string' && description ? `: ${sanitize(description, 200)}` : '';
        if (code === 'access_denied') {
          throw new AuthError('AUTH_PROVIDER_ERROR', `Sign-in was denied on the verification page (access_denied${detail}). Nothing was stored.`, {
            hint: 'Run `auth login --device` again and approve the request.',
          });
        }
        if (code === 'expired_token') throw expired();
        if (expiry.aborted) throw networkFailures ? unreachable() : expired();
        if (isNetworkError(e)) {
          // RFC 8628 §3.5 / R51: reduce the polling frequency (double the interval each time)
          // and keep polling until the code expires; a success afterwards completes the sign-in.
          networkFailures += 1;
          interval *= 2;
          cb.onNetworkRetry?.(interval);
          current = { ...clamped, interval, expires_in: Math.max(1, Math.ceil((deadline - o.now()) / 1000)) };
          continue;
        }
        throw fromProtocolError(e, 'Device sign-in');
      }
    }
  } finally {
    if (baseFetch) o.config[client.customFetch] = baseFetch;
  }
}

function normalizeUrl(url: unknown): string | undefined {
  try {
    return new URL(String(url)).href;
  } catch {
    return undefined;
  }
}

function isNetworkError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (isFetchFailure(e)) return true;
  const cause = (e as { cause?: unknown }).cause;
  // A poll that outlived our per-request deadline (flows/bounded-fetch.ts) is a network failure too (RFC 8628 §3.5: back off, keep polling).
  const limit = e instanceof ProviderAnswerError ? e : cause;
  if (limit instanceof ProviderAnswerError) return limit.code === 'AUTH_NETWORK';
  return e.name === 'TimeoutError' || (e as { code?: string }).code === 'OAUTH_TIMEOUT' || (cause instanceof Error && cause.name === 'TimeoutError');
}

function expired(): AuthError {
  return new AuthError('AUTH_TIMEOUT', 'The device code expired before the sign-in was approved (expired_token). Nothing was stored.', {
    hint: 'Run `auth login --device` again to get a new code.',
  });
}

function unreachable(): AuthError {
  return new AuthError('AUTH_NETWORK', 'Could not reach the provider while waiting for the device sign-in, and the code has now expired. Nothing was stored.', {
    hint: 'Check your network connection and proxy settings (HTTPS_PROXY, NO_PROXY), then run `auth login --device` again.',
  });
}
