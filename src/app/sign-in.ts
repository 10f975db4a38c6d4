import type * as client from 'openid-client';
import { updateConfig, type Config, type Flow, type ProfileConfig } from '../config/config.js';
import { DEFAULT_SCOPES, type ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { authCommand, AuthError, usageError } from '../errors.js';
import type { Credential } from '../domain/credential.js';
import { connectServer } from '../flows/server.js';
import { accountFromUserinfo, describeServer } from '../providers/resolve.js';
import { bearerTokenProblem, checkIdTokenPolicy, credentialFromTokens } from '../flows/tokens.js';
import { storeUnderLock } from '../store/profile-lock.js';
import { clientSecretFor, storeFor } from './context.js';

type TokenResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

/** A profile that has what a sign-in needs. */
export type SignInProfile = ResolvedProfile & { issuer: string; clientId: string };

export interface BrowserState {
  ok: boolean;
  reason: string;
}

/**
 * What a person sees while a sign-in waits on them; `auth login` renders it (the cli
 * layer owns the terminal). Nothing here carries a secret: the device_code, the PKCE
 * verifier and the tokens never reach the view (docs/security.md R52).
 */
export interface SignInView {
  deviceCode(info: { verificationUri: string; verificationUriComplete?: string; userCode: string }): Promise<void>;
  authorizationUrl(url: string, browser: BrowserState): void;
  /** `switching`: the provider has a device flow and the sign-in moves to it. */
  browserFailed(error: Error, switching: boolean): void;
  waiting(kind: 'browser' | 'device'): void;
  doneWaiting(): void;
  networkRetry(seconds: number): void;
  /** The page the browser shows after the callback. */
  browserPage(credential: Credential): { title: string; lines: string[] };
}

export interface SignInRequest {
  profile: SignInProfile;
  config: Config;
  /** false: --no-browser (print the URL, wait for the callback). */
  launchBrowser: boolean;
  timeoutMs: number;
}

export interface SignInResult {
  credential: Credential;
  flow: 'browser' | 'device';
}

/** docs/design.md §2 flow choice for `auto`. */
export function chooseFlow(flow: Flow, browser: BrowserState, hasDevice: boolean): { flow: 'browser' | 'device'; why: string } {
  if (flow === 'browser') return { flow: 'browser', why: 'the browser flow was requested' };
  if (flow === 'device') return { flow: 'device', why: 'the device flow was requested' };
  if (browser.ok) return { flow: 'browser', why: browser.reason };
  if (hasDevice) return { flow: 'device', why: `${browser.reason} and the provider supports the device flow` };
  return { flow: 'browser', why: `${browser.reason}, but the provider has no device flow; printing the URL instead` };
}

/**
 * An interactive sign-in (docs/design.md §2): the browser flow with PKCE on a loopback
 * redirect, or the device flow, chosen by the profile and this machine; in `auto` mode a
 * browser that fails to launch moves the sign-in to the device flow. The credential is
 * stored (under the profile's lock) only after every check passed (docs/security.md R44).
 */
export async function signIn(req: SignInRequest, deps: Deps, view: SignInView): Promise<SignInResult> {
  const { profile, config } = req;
  const clientSecret = await clientSecretFor(profile, deps);
  const store = await storeFor(profile, deps);
  // The encrypted store's passphrase is asked (and checked) before the browser opens, not after.
  await store.prepareWrite?.(profile.name);
  const description = describeServer(profile.issuer, config);
  const server = await connectServer({ issuer: profile.issuer, clientId: profile.clientId, server: description, ...(clientSecret ? { clientSecret } : {}) }, deps);
  const metadata = server.serverMetadata();
  if (profile.scopes.includes('openid') && !metadata.jwks_uri) {
    // Caught before the browser opens: after consent the ID token could not be checked.
    throw new AuthError('AUTH_CONFIG_INVALID', `Profile ${profile.name} asks for the openid scope, but the provider's ${description.metadata ? 'endpoints in the profile name' : 'metadata names'} no JWKS URI, so its ID token could not be checked.`, {
      hint: `Add endpoints.jwks (the provider's JWKS URI) to the profile, or remove openid from its scopes; \`${authCommand('setup', profile.name)}\` does either.`,
    });
  }
  const hasDevice = Boolean(metadata.device_authorization_endpoint);
  const browserState = req.launchBrowser ? deps.browser.available() : { ok: false, reason: '--no-browser was given' };
  const choice = chooseFlow(profile.flow, browserState, hasDevice);
  deps.log.debug(`flow: ${choice.flow} (${choice.why})`);

  let stored: Credential | undefined;
  let callbackAt: number | undefined;
  const finish = async (tokens: TokenResponse): Promise<Credential> => {
    const claims = tokens.claims();
    if (claims) checkIdTokenPolicy(claims, profile.clientId, deps.clock.now());
    const cred = credentialFromTokens(tokens, { kind: 'oauth', issuer: profile.issuer, clientId: profile.clientId, now: deps.clock.now(), requestedScopes: profile.scopes, resources: profile.resources });
    // Plain OAuth 2 (GitHub): no ID token, so the account comes from the user info endpoint.
    if (!cred.account && !tokens.id_token) {
      const account = await accountFromUserinfo(server, cred.accessToken, deps);
      if (account) cred.account = account;
    }
    // An ID token that names only the subject (OpenID Connect Core §5.4 lets a provider return
    // email and name from userinfo alone): ask userinfo once, for the same `sub` only (§5.3.2),
    // so the summary line shows who signed in (docs/security.md R90). Best effort: a failure keeps the sub.
    if (tokens.id_token && claims?.sub && !hasDisplayName(cred.account)) {
      const info = await accountFromUserinfo(server, cred.accessToken, deps, claims.sub);
      if (info) cred.account = { ...info, ...cred.account, sub: claims.sub };
    }
    // Nothing is stored until every check passed (docs/security.md R44).
    await storeUnderLock(store, profile.name, cred, deps);
    // docs/design.md §7 budget (< 100 ms): the machine's share of a sign-in; `npm run bench` reads this line.
    if (callbackAt !== undefined) deps.log.debug(`callback→stored ${Math.round(performance.now() - callbackAt)} ms`);
    stored = cred;
    return cred;
  };

  const viaDevice = async (): Promise<SignInResult> => {
    if (!hasDevice) {
      throw new AuthError('AUTH_PROVIDER_ERROR', `The provider at ${profile.issuer} does not support the device flow (its metadata has no device_authorization_endpoint).`, {
        hint: 'Run `auth login --browser` instead (with --no-browser on a machine without a browser, forwarding the callback port).',
      });
    }
    const { runDeviceFlow } = await import('../flows/device.js');
    try {
      const tokens = await runDeviceFlow(
        { config: server, scopes: profile.scopes, resources: profile.resources, signal: deps.signal, now: () => deps.clock.now() },
        {
          onUserCode: (info) => view.deviceCode(info),
          onWaiting: () => view.waiting('device'),
          onNetworkRetry: (s) => view.networkRetry(s),
        },
      );
      view.doneWaiting();
      return { credential: await finish(tokens), flow: 'device' };
    } finally {
      view.doneWaiting();
    }
  };

  if (choice.flow === 'device') return viaDevice();

  // docs/design.md §2: in `auto` mode, with no browser command configured, a browser that fails to
  // launch means the device flow when the provider has one (the loopback listener is closed).
  const canFallBack = profile.flow === 'auto' && !deps.env.AUTH_BROWSER && !deps.env.BROWSER && hasDevice;
  const fallback = new AbortController();
  const { runLoopbackFlow } = await import('../flows/loopback.js');
  try {
    await runLoopbackFlow(
      {
        config: server,
        scopes: profile.scopes,
        resources: profile.resources,
        redirect: profile.redirect,
        timeoutMs: req.timeoutMs,
        signal: AbortSignal.any([deps.signal, fallback.signal]),
        launch: browserState.ok,
        openBrowser: async (url) => {
          // The launcher gave up after the flow started waiting: in `auto` mode, move to the device
          // flow now rather than wait out the timeout (unless the browser already came back).
          const lateFailure = (e: Error) => {
            if (callbackAt !== undefined || stored || fallback.signal.aborted) return;
            if (canFallBack) view.doneWaiting();
            view.browserFailed(e, canFallBack);
            if (canFallBack) fallback.abort(e);
          };
          try {
            // docs/security.md R85: the browser launcher (AUTH_BROWSER, or `open` → xdg-open → the browser)
            // has no use for the client secret, read above.
            await deps.browser.open(url, profile.clientSecretEnv ? [profile.clientSecretEnv] : [], lateFailure);
          } catch (e) {
            if (canFallBack) fallback.abort(e);
            throw e;
          }
        },
        now: () => deps.clock.now(),
      },
      {
        onAuthorizationUrl: (url) => view.authorizationUrl(url, browserState),
        onBrowserFailed: (e) => view.browserFailed(e, fallback.signal.aborted),
        onWaiting: () => {
          if (!fallback.signal.aborted) view.waiting('browser');
        },
        onCallback: () => {
          callbackAt = performance.now();
          view.doneWaiting();
        },
        onTokens: async (tokens) => ({ ok: true, ...view.browserPage(await finish(tokens)) }),
      },
    );
  } catch (e) {
    if (!fallback.signal.aborted || deps.signal.aborted || stored) throw e;
  } finally {
    view.doneWaiting();
  }
  if (fallback.signal.aborted && !stored) {
    deps.log.debug('flow: device (launching the browser failed and the provider supports the device flow)');
    return viaDevice();
  }
  return { credential: stored!, flow: 'browser' };
}

const hasDisplayName = (account: Credential['account']) => Boolean(account?.email || account?.name || account?.username);

/** Which settings were given for this sign-in (flag or env), so they become the profile's own. */
export interface GivenSettings {
  scopes: boolean;
  resources: boolean;
  clientSecretEnv?: string;
  port?: number;
}

/** Settings given for a sign-in become the profile's (docs/design.md §2); the first profile becomes the active one. */
export function rememberProfile(deps: Deps, profile: SignInProfile, given: GivenSettings): void {
  updateConfig(deps.paths.configFile, (config) => {
    const before: ProfileConfig = config.profiles[profile.name] ?? {};
    const next: ProfileConfig = { ...before, issuer: profile.issuer, clientId: profile.clientId };
    if (given.scopes || before.scopes) {
      if (profile.scopes.join(' ') !== DEFAULT_SCOPES.join(' ') || before.scopes) next.scopes = profile.scopes;
    }
    if (given.resources) next.resources = profile.resources;
    if (given.clientSecretEnv) next.clientSecretEnv = given.clientSecretEnv;
    if (given.port !== undefined) next.redirect = { ...before.redirect, port: given.port };
    config.profiles[profile.name] = next;
    if (!config.active) config.active = profile.name;
  });
}

/** Placeholder issuer of a static token stored without one (the credential format requires an issuer). */
const STATIC_ISSUER = 'static';
export const MAX_STATIC_TOKEN = 16 * 1024;

/**
 * `auth login --with-token` (as `gh auth login --with-token`): a token or API key the
 * person gave, stored as a static credential — no refresh token, no expiry, no discovery
 * or network. The issuer is recorded when one is configured; otherwise the credential
 * names the placeholder issuer `static`. `explicitScopes`: scopes were given or configured.
 */
export async function storeStaticToken(profile: ResolvedProfile, token: string, explicitScopes: boolean, deps: Deps): Promise<Credential> {
  // The same RFC 6750 §2.1 b64token rule as for tokens a provider issues (flows/tokens.ts): anything
  // else could break, or add to, the Authorization header a script builds from `auth token`.
  if (token.length > MAX_STATIC_TOKEN) throw usageError('The token from stdin is too long, so it was not stored.');
  const problem = bearerTokenProblem(token);
  if (problem) throw usageError(`The token from stdin cannot be used as a Bearer token (${problem}), so it was not stored.`);
  const cred: Credential = {
    kind: 'static',
    accessToken: token,
    tokenType: 'Bearer',
    scope: explicitScopes ? profile.scopes.join(' ') : '',
    issuer: profile.issuer ?? STATIC_ISSUER,
    clientId: profile.clientId ?? '',
    obtainedAt: deps.clock.now(),
  };
  const store = await storeFor(profile, deps);
  await storeUnderLock(store, profile.name, cred, deps);
  updateConfig(deps.paths.configFile, (c) => {
    const before: ProfileConfig = c.profiles[profile.name] ?? {};
    const next: ProfileConfig = { ...before };
    if (profile.issuer) next.issuer = profile.issuer;
    if (profile.clientId) next.clientId = profile.clientId;
    c.profiles[profile.name] = next;
    if (!c.active) c.active = profile.name;
  });
  return cred;
}

/**
 * A service account signs in with the client_credentials grant (flows/client-credentials.ts,
 * the same path `auth token` uses to re-issue a due token). The secret comes from the
 * profile's variable or store, or a private key file from the profile. Default user scopes
 * (openid, offline_access, …) mean nothing to this grant: scopes are sent only when
 * `explicitScopes`, else the provider grants the client's default.
 */
export async function signInServiceAccount(profile: SignInProfile, config: Config, explicitScopes: boolean, deps: Deps): Promise<Credential> {
  const clientSecret = profile.privateKeyFile ? undefined : await clientSecretFor(profile, deps);
  const store = await storeFor(profile, deps);
  await store.prepareWrite?.(profile.name);
  const { issueServiceCredential } = await import('../flows/client-credentials.js');
  const cred = await issueServiceCredential({
    issuer: profile.issuer,
    clientId: profile.clientId,
    server: describeServer(profile.issuer, config),
    ...(clientSecret ? { clientSecret } : {}),
    ...(profile.privateKeyFile ? { privateKeyFile: profile.privateKeyFile } : {}),
    scopes: explicitScopes ? profile.scopes : [],
    resources: profile.resources,
  }, deps);
  await storeUnderLock(store, profile.name, cred, deps);
  return cred;
}
