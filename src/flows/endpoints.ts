import type * as client from 'openid-client';
import { isLoopbackHttp } from '../config/resolve.js';
import { AuthError } from '../errors.js';

const ENDPOINT_FIELDS = [
  'authorization_endpoint', 'token_endpoint', 'device_authorization_endpoint', 'revocation_endpoint',
  'userinfo_endpoint', 'jwks_uri', 'pushed_authorization_request_endpoint', 'introspection_endpoint',
] as const;

/** Every endpoint the metadata names must be https (or loopback http for local test servers). */
export function checkEndpoints(metadata: client.ServerMetadata): void {
  for (const field of ENDPOINT_FIELDS) {
    const value = metadata[field];
    if (value === undefined) continue;
    let url: URL;
    try {
      url = new URL(String(value));
    } catch {
      throw new AuthError('AUTH_PROVIDER_ERROR', `The provider metadata has an invalid ${field}.`);
    }
    if (url.protocol !== 'https:' && !isLoopbackHttp(url)) {
      throw new AuthError('AUTH_INSECURE', `Refusing to use the provider: its ${field} is not an https URL.`);
    }
  }
  // RFC 7636 §7.2 / docs/security.md R11: never downgrade PKCE.
  const methods = metadata.code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes('S256')) {
    throw new AuthError('AUTH_PROVIDER_ERROR', 'The provider does not support PKCE with S256, which auth requires for a safe sign-in.');
  }
}
