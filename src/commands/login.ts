import type * as client from 'openid-client';
import { updateConfig, type Flow, type ProfileConfig } from '../config/config.js';
import { DEFAULT_SCOPES, type ProfileFlags, type ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { AuthError, usageError } from '../errors.js';
import { accountLabel, type Credential } from '../store/credential.js';
import { connectServer } from '../flows/server.js';
import { requireUnlocked } from '../mfa/guard.js';
import { checkIdTokenPolicy, credentialFromTokens } from '../flows/tokens.js';
import { sanitize } from '../ui/text.js';
import { startSpinner } from '../ui/spinner.js';
import { clientSecretFor, loadProfile, storeFor } from './context.js';

type TokenResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

export interface LoginOptions extends ProfileFlags {
  device?: boolean;
  browser?: boolean;
  /** commander's --no-browser sets this false. */
  launchBrowser?: boolean;
  timeout?: number;
  qr?: boolean;
  color: boolean;
}

/** DESIGN §2 flow choice for `auto`. */
export function chooseFlow(flow: Flow, browser: { ok: boolean; reason: string }, hasDevice: boolean): { flow: 'browser' | 'device'; why: string } {
  if (flow === 'browser') return { flow: 'browser', why: 'the browser flow was requested' };
  if (flow === 'device') return { flow: 'device', why: 'the device flow was requested' };
  if (browser.ok) return { flow: 'browser', why: browser.reason };
  if (hasDevice) return { flow: 'device', why: `${browser.reason} and the provider supports the device flow` };
  return { flow: 'browser', why: `${browser.reason}, but the provider has no device flow; printing the URL instead` };
}

export async function runLogin(opts: LoginOptions, deps: Deps): Promise<void> {
  if (opts.device && opts.browser) throw usageError('--device and --browser cannot be used together.');
  const flags: ProfileFlags = { ...opts };
  if (opts.device) flags.flow = 'device';
  // --no-browser still means the loopback flow, just without launching anything (DESIGN §2).
  if (opts.browser || (opts.launchBrowser === false && !opts.device)) flags.flow = 'browser';
  const { config, profile } = loadProfile(deps, flags);
  await requireUnlocked(profile, deps);
  if (!profile.issuer || !profile.clientId) {
    const missing = !profile.issuer ? 'issuer' : 'client id';
    throw new AuthError('AUTH_USAGE', `Profile ${profile.name} has no ${missing} configured.`, {
      hint: deps.io.stdinIsTTY && deps.io.stderrIsTTY
        ? 'Run `auth setup` to configure it, or pass --issuer <url> --client-id <id>.'
        : 'Pass --issuer <url> --client-id <id> (or set AUTH_ISSUER and AUTH_CLIENT_ID), or run `auth setup` in a terminal.',
    });
  }
  const timeoutSeconds = opts.timeout ?? 300;
  if (!(timeoutSeconds > 0)) throw usageError('--timeout must be a positive number of seconds.');
  const clientSecret = clientSecretFor(profile, deps);
  const store = await storeFor(profile, deps);

  const server = await connectServer({ issuer: profile.issuer, clientId: profile.clientId, ...(clientSecret ? { clientSecret } : {}) }, deps);
  const metadata = server.serverMetadata();
  const browserState = opts.launchBrowser === false ? { ok: false, reason: '--no-browser was given' } : deps.browser.available();
  const choice = chooseFlow(profile.flow, browserState, Boolean(metadata.device_authorization_endpoint));
  deps.log.debug(`flow: ${choice.flow} (${choice.why})`);

  const issuer = profile.issuer;
  const clientId = profile.clientId;
  let stored: Credential | undefined;
  const finish = async (tokens: TokenResponse) => {
    const claims = tokens.claims();
    if (claims) checkIdTokenPolicy(claims, clientId, deps.clock.now());
    const cred = credentialFromTokens(tokens, { kind: 'oauth', issuer, clientId, now: deps.clock.now(), requestedScopes: profile.scopes, resources: profile.resources });
    // Nothing is stored until every check passed (SECURITY R44).
    await store.set(profile.name, cred);
    stored = cred;
    return cred;
  };

  if (choice.flow === 'device') {
    if (!metadata.device_authorization_endpoint) {
      throw new AuthError('AUTH_PROVIDER_ERROR', `The provider at ${issuer} does not support the device flow.`, { hint: 'Run `auth login --browser` instead.' });
    }
    const { runDeviceFlow } = await import('../flows/device.js');
    let spinner = { stop() {} };
    try {
      const tokens = await runDeviceFlow(
        { config: server, scopes: profile.scopes, resources: profile.resources, signal: deps.signal, now: () => deps.clock.now() },
        {
          onUserCode: async (info) => {
            const host = new URL(info.verificationUri).host;
            deps.log.info(`To sign in, open ${sanitize(info.verificationUri)} and enter the code: ${sanitize(info.userCode, 64)}`);
            deps.log.info(`Only enter this code on that page; nobody will ever ask you for it.`);
            deps.log.info(`(It signs in auth on ${sanitize(deps.hostname, 64)}; only continue at ${sanitize(host, 100)} if you just started this sign-in.)`);
            if (opts.qr !== false && deps.io.stderrIsTTY) {
              const { renderQr } = await import('../ui/qr.js');
              deps.io.stderr.write(await renderQr(info.verificationUriComplete ?? info.verificationUri));
            }
          },
          onWaiting: () => {
            void startSpinner(deps.io, deps.log.color, 'Waiting for you to approve the sign-in…').then((s) => (spinner = s));
          },
          onNetworkRetry: (s) => deps.log.warn(`Network error while polling; trying again in ${Math.round(s)} s.`),
        },
      );
      spinner.stop();
      await finish(tokens);
    } finally {
      spinner.stop();
    }
  } else {
    const { runLoopbackFlow } = await import('../flows/loopback.js');
    let spinner = { stop() {} };
    try {
      await runLoopbackFlow(
        {
          config: server,
          scopes: profile.scopes,
          resources: profile.resources,
          redirect: profile.redirect,
          timeoutMs: timeoutSeconds * 1000,
          signal: deps.signal,
          launch: browserState.ok,
          openBrowser: (url) => deps.browser.open(url),
          now: () => deps.clock.now(),
        },
        {
          onAuthorizationUrl: (url) => {
            deps.log.info('Open this URL in your browser to sign in:');
            deps.log.info(`  ${url}`);
            if (!browserState.ok) deps.log.info(`(Not opening a browser: ${browserState.reason}.)`);
          },
          onBrowserFailed: (e) => deps.log.warn(`Could not open a browser (${sanitize(e.message)}); open the URL above yourself.`),
          onWaiting: () => {
            void startSpinner(deps.io, deps.log.color, 'Waiting for sign-in in the browser…').then((s) => (spinner = s));
          },
          onCallback: () => spinner.stop(),
          onTokens: async (tokens) => {
            const cred = await finish(tokens);
            const who = accountLabel(cred.account);
            return { ok: true, title: 'Signed in', lines: [`You are signed in${who ? ` as ${who}` : ''}.`, 'You can close this tab and return to your terminal.'] };
          },
        },
      );
    } finally {
      spinner.stop();
    }
  }

  const cred = stored!;
  saveProfile(deps, profile, opts, config.active === undefined);
  const who = accountLabel(cred.account) ?? 'an unnamed account';
  deps.log.success(`Logged in to ${issuer} as ${sanitize(who, 120)} (profile ${profile.name})`);
  if (!cred.refreshToken) deps.log.info('  The provider issued no refresh token; you will need to log in again when the access token expires.');
}

/** Flags and env given for this login become the profile's settings (DESIGN §2). */
function saveProfile(deps: Deps, profile: ResolvedProfile, opts: LoginOptions, makeActive: boolean): void {
  updateConfig(deps.paths.configFile, (config) => {
    const before: ProfileConfig = config.profiles[profile.name] ?? {};
    const next: ProfileConfig = { ...before, issuer: profile.issuer!, clientId: profile.clientId! };
    if (opts.scope?.length || deps.env.AUTH_SCOPES || before.scopes) {
      if (profile.scopes.join(' ') !== DEFAULT_SCOPES.join(' ') || before.scopes) next.scopes = profile.scopes;
    }
    if (opts.resource?.length) next.resources = profile.resources;
    if (opts.clientSecretEnv) next.clientSecretEnv = opts.clientSecretEnv;
    if (opts.port !== undefined) next.redirect = { ...before.redirect, port: opts.port };
    config.profiles[profile.name] = next;
    if (makeActive && !config.active) config.active = profile.name;
  });
}
