import * as client from 'openid-client';
import type { Deps } from '../deps.js';
import type { Credential } from '../domain/credential.js';
import { oauthErrorCode, fromProtocolError } from './protocol-errors.js';
import { connectServer } from './server.js';
import { sleep } from './retry.js';
import type { Config } from '../config/config.js';
import { describeServer } from '../providers/resolve.js';

export type RevokeOutcome =
  | { status: 'revoked' }
  /** `endSession`: the provider's end_session_endpoint, where a person can end the session instead. */
  | { status: 'unsupported'; endSession?: string }
  | { status: 'failed'; reason: string };

/**
 * RFC 7009: revoke the refresh token first (it ends the grant), then the access
 * token (docs/security.md R68), at the revocation endpoint of the issuer that issued them.
 */
export async function revokeCredential(cred: Credential, appConfig: Config, deps: Deps, clientSecret?: string): Promise<RevokeOutcome> {
  let config: client.Configuration;
  try {
    config = await connectServer({ issuer: cred.issuer, clientId: cred.clientId, server: describeServer(cred.issuer, appConfig), ...(clientSecret ? { clientSecret } : {}) }, deps);
  } catch (e) {
    return { status: 'failed', reason: fromProtocolError(e, 'Discovery').message.replace(/\.$/, '') };
  }
  const metadata = config.serverMetadata();
  if (!metadata.revocation_endpoint) {
    const end = metadata.end_session_endpoint;
    return typeof end === 'string' && /^https?:\/\//.test(end) ? { status: 'unsupported', endSession: end } : { status: 'unsupported' };
  }
  const targets: Array<[string, string]> = [];
  if (cred.refreshToken) targets.push([cred.refreshToken, 'refresh_token']);
  targets.push([cred.accessToken, 'access_token']);
  for (const [token, hint] of targets) {
    const outcome = await revokeOne(config, token, hint, deps);
    if (outcome) return outcome;
  }
  return { status: 'revoked' };
}

async function revokeOne(config: client.Configuration, token: string, hint: string, deps: Deps): Promise<RevokeOutcome | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await client.tokenRevocation(config, token, { token_type_hint: hint });
      return undefined;
    } catch (e) {
      const code = oauthErrorCode(e);
      // A self-contained (JWT) access token cannot be revoked; once the refresh token is gone it just expires.
      if (hint === 'access_token' && code === 'unsupported_token_type') return undefined;
      const status = (e as { status?: number; cause?: { status?: number } }).cause?.status ?? (e as { status?: number }).status;
      if (status === 503 && attempt === 0) {
        // RFC 7009 §2.2.1: the token still exists; retry once after Retry-After (bounded).
        const retryAfter = Number((e as { cause?: Response }).cause?.headers?.get?.('retry-after')) || 1;
        await sleep(Math.min(retryAfter, 5) * 1000, deps.signal);
        continue;
      }
      deps.log.debug(`revocation of the ${hint.replace('_', ' ')} failed`);
      return { status: 'failed', reason: fromProtocolError(e, 'Revocation').message.replace(/^Revocation failed: /, '').replace(/\.$/, '') };
    }
  }
  return { status: 'failed', reason: 'the provider was unavailable (HTTP 503)' };
}
