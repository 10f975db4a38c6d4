import * as client from 'openid-client';
import { AuthError } from '../errors.js';
import { fromProtocolError, oauthErrorCode } from './protocol-errors.js';

type TokenResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

/**
 * Device authorization grant (RFC 8628). openid-client polls at `interval`
 * (5 s when absent), adds 5 s on every slow_down and stops at `expires_in`
 * (SECURITY R48–R50); this wrapper validates the response (R46) and backs off
 * on network errors (R51). Never writes to a stream.
 */
export interface DeviceOptions {
  config: client.Configuration;
  scopes: string[];
  resources: string[];
  signal: AbortSignal;
  now(): number;
}

export interface DeviceCallbacks {
  onUserCode(info: { verificationUri: string; verificationUriComplete?: string; userCode: string; expiresIn: number }): void | Promise<void>;
  onWaiting(): void;
  onNetworkRetry?(delaySeconds: number): void;
}

function checkHttpsUrl(value: unknown, field: string): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new AuthError('AUTH_PROVIDER_ERROR', `The provider's device authorization response has an invalid ${field}.`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new AuthError('AUTH_INSECURE', `The provider's ${field} is not an https URL, so it was not shown.`);
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
  if (!(response.expires_in > 0)) throw new AuthError('AUTH_PROVIDER_ERROR', 'The provider sent a device code without a valid expiry.');
  const verificationUri = checkHttpsUrl(response.verification_uri, 'verification_uri');
  const info: Parameters<DeviceCallbacks['onUserCode']>[0] = { verificationUri, userCode: response.user_code, expiresIn: response.expires_in };
  if (response.verification_uri_complete) info.verificationUriComplete = checkHttpsUrl(response.verification_uri_complete, 'verification_uri_complete');
  await cb.onUserCode(info);
  cb.onWaiting();

  const deadline = o.now() + response.expires_in * 1000;
  const tokenParams: Record<string, string> = {};
  if (o.resources.length === 1) tokenParams.resource = o.resources[0]!;
  let current: client.DeviceAuthorizationResponse = response;
  let backoff = 1;
  for (;;) {
    const remaining = deadline - o.now();
    if (remaining <= 0) throw expired();
    try {
      return await client.pollDeviceAuthorizationGrant(o.config, current, tokenParams, { signal: o.signal });
    } catch (e) {
      const code = oauthErrorCode(e);
      if (code === 'access_denied') throw new AuthError('AUTH_PROVIDER_ERROR', 'Sign-in was denied on the verification page (access_denied).', { hint: 'Run `auth login --device` again and approve the request.' });
      if (code === 'expired_token') throw expired();
      if (o.signal.aborted) throw fromProtocolError(o.signal.reason ?? e, 'Device sign-in');
      if (e instanceof Error && (e.name === 'TimeoutError' || /aborted/i.test(e.message)) && o.now() >= deadline) throw expired();
      if (e instanceof TypeError || (e as Error).name === 'TimeoutError') {
        // RFC 8628 §3.5: on a connection error, reduce the polling frequency and keep going until
        // expiry. openid-client waits one interval before each poll; add the extra back-off on top.
        backoff *= 2;
        const interval = current.interval ?? 5;
        cb.onNetworkRetry?.(interval * backoff);
        await sleep(Math.min(interval * (backoff - 1) * 1000, Math.max(0, deadline - o.now())), o.signal);
        current = { ...current, expires_in: Math.max(1, Math.ceil((deadline - o.now()) / 1000)) };
        continue;
      }
      throw fromProtocolError(e, 'Device sign-in');
    }
  }
}

function expired(): AuthError {
  return new AuthError('AUTH_TIMEOUT', 'The device code expired before the sign-in was approved (expired_token).', { hint: 'Run `auth login --device` again to get a new code.' });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
  });
}
