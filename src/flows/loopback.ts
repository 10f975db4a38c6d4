import * as client from 'openid-client';
import { AuthError } from '../errors.js';
import { sanitize } from '../ui/text.js';
import { startCallbackServer } from './callback-server.js';
import { fromProtocolError, libraryCheck } from './protocol-errors.js';
import type { PageContent } from '../ui/html.js';

type TokenResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

/** Response parameters of the implicit / hybrid flows (RFC 6749 §4.2.2, OIDC Core §3.3.2.5). */
const IMPLICIT_PARAMS = ['access_token', 'id_token', 'token', 'refresh_token'];

/**
 * Authorization code flow for a native app through the system browser
 * (RFC 8252 + RFC 7636 + RFC 9700). Never writes to a stream: progress goes
 * through the callbacks, which the command renders.
 */
export interface LoopbackOptions {
  config: client.Configuration;
  scopes: string[];
  resources: string[];
  redirect: { host: string; port: number; path: string };
  timeoutMs: number;
  signal: AbortSignal;
  /** Launch the browser (false for --no-browser). */
  launch: boolean;
  openBrowser(url: string): Promise<void>;
  now(): number;
}

export interface LoopbackCallbacks {
  onAuthorizationUrl(url: string): void;
  onBrowserFailed(error: Error): void;
  onWaiting(): void;
  onCallback(): void;
  /** Called with the validated tokens before the browser is answered; returns the success page. */
  onTokens(tokens: TokenResponse): Promise<PageContent>;
}

export async function runLoopbackFlow(o: LoopbackOptions, cb: LoopbackCallbacks): Promise<void> {
  const openid = o.scopes.includes('openid');
  const state = client.randomState();
  const nonce = openid ? client.randomNonce() : undefined;
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const server = await startCallbackServer({ ...o.redirect, expectedState: state });
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = AbortSignal.any([o.signal, timeout]);
  try {
    const params = new URLSearchParams({
      redirect_uri: server.redirectUri,
      scope: o.scopes.join(' '),
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
    });
    if (nonce) params.set('nonce', nonce);
    // Without prompt=consent many providers (oidc-provider among them) drop offline_access.
    if (o.scopes.includes('offline_access')) params.set('prompt', 'consent');
    for (const r of o.resources) params.append('resource', r);
    const metadata = o.config.serverMetadata();
    const url = metadata.require_pushed_authorization_requests
      ? await client.buildAuthorizationUrlWithPAR(o.config, params)
      : client.buildAuthorizationUrl(o.config, params);
    cb.onAuthorizationUrl(url.href);
    if (o.launch) {
      await o.openBrowser(url.href).catch((e: Error) => cb.onBrowserFailed(e));
    }
    cb.onWaiting();

    let callback;
    try {
      callback = await server.next(signal);
    } catch (e) {
      if (timeout.aborted && !o.signal.aborted) {
        throw loginTimeout(o.timeoutMs, server.redirectUri, o.redirect.port !== 0, Boolean(metadata.device_authorization_endpoint));
      }
      throw e;
    }
    cb.onCallback();
    let tokens: TokenResponse;
    try {
      // docs/security.md R08: only the code flow. openid-client refuses `id_token`/`token` in the
      // response but not `access_token`; a response carrying tokens is never exchanged.
      const implicit = IMPLICIT_PARAMS.find((p) => callback.url.searchParams.has(p));
      if (implicit) {
        throw new AuthError('AUTH_PROVIDER_ERROR', `Sign-in was not completed: the response to the callback carried "${implicit}", which only the implicit or hybrid flow sends; auth uses the authorization code flow only, so nothing was exchanged.`);
      }
      // The URL is the stored redirect URI plus the received query (docs/security.md R26);
      // openid-client checks iss (RFC 9207), state, error and duplicates (R27–R31).
      const tokenParams: Record<string, string> = {};
      if (o.resources.length === 1) tokenParams.resource = o.resources[0]!;
      tokens = await client.authorizationCodeGrant(
        o.config,
        callback.url,
        { pkceCodeVerifier: verifier, expectedState: state, ...(nonce ? { expectedNonce: nonce } : {}), idTokenExpected: openid },
        tokenParams,
      );
    } catch (e) {
      const err = e instanceof client.AuthorizationResponseError
        ? new AuthError('AUTH_PROVIDER_ERROR', `Sign-in was not completed: the provider answered ${sanitize(e.error, 80)}${e.error_description ? `: ${sanitize(e.error_description)}` : ''}.`, {
          hint: e.error === 'access_denied' ? 'Run `auth login` again and approve the request in the browser.' : undefined,
        } as { hint?: string })
        : isMixUp(e, metadata)
          // RFC 9207 / docs/security.md R29: the response names no issuer or another one (mix-up defence).
          ? new AuthError('AUTH_PROVIDER_ERROR', `Sign-in was not completed: the response did not identify ${o.config.serverMetadata().issuer} as its sender (missing or wrong "iss"), so it may come from another provider; nothing was exchanged.`, {
            hint: 'Run `auth login` again; if it repeats, check which sign-in pages your browser is using.',
          })
          : fromProtocolError(e, 'Sign-in');
      callback.respond({ ok: false, title: 'Sign-in failed', lines: [err.message, 'You can close this tab and check your terminal.'] });
      throw err;
    }
    try {
      const page = await cb.onTokens(tokens);
      callback.respond(page);
    } catch (e) {
      const err = fromProtocolError(e, 'Sign-in');
      callback.respond({ ok: false, title: 'Sign-in failed', lines: [err.message, 'You can close this tab and check your terminal.'] });
      throw err;
    }
  } finally {
    await server.close();
  }
}

/**
 * The RFC 9207 check refused the authorization response (before any exchange):
 * `iss` missing although the provider advertises it, or not the issuer. Told by
 * the library's structure — an OAUTH_INVALID_RESPONSE carrying the callback
 * parameters — since its ID-token `iss` check uses the same words.
 */
function isMixUp(e: unknown, metadata: client.ServerMetadata): boolean {
  const check = libraryCheck(e);
  const params = check?.code === 'OAUTH_INVALID_RESPONSE' ? check.callback : undefined;
  // A JARM `response` is refused before the iss check runs.
  if (!params || params.has('response')) return false;
  const iss = params.get('iss');
  return iss === null ? metadata.authorization_response_iss_parameter_supported === true : iss !== metadata.issuer;
}

/**
 * Waiting for the callback timed out. The usual cause with a real provider is a
 * redirect URI it does not accept: it shows its own error page and never
 * redirects back, so the message names the URI that was sent and how to fix it.
 */
function loginTimeout(timeoutMs: number, redirectUri: string, fixedPort: boolean, hasDevice: boolean): AuthError {
  const hints = [
    `If the provider showed an error page (e.g. about the redirect URI) instead of sending you back: register exactly ${redirectUri} for this client at the provider, or pass a fixed --port matching the redirect URI registered there${fixedPort ? '' : ' (without --port the port changes on every sign-in)'}.`,
    `Otherwise run \`auth login\` again (--timeout <seconds> gives more time)${hasDevice ? ', or `auth login --device` to sign in from another device' : ''}.`,
  ];
  return new AuthError('AUTH_TIMEOUT', `Timed out after ${Math.round(timeoutMs / 1000)} s waiting for the sign-in in the browser (redirect URI sent: ${redirectUri}).`, {
    hint: hints.join('\n  '),
  });
}
