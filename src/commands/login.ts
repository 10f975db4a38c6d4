import type * as client from 'openid-client';
import { updateConfig, type Config, type Flow, type ProfileConfig } from '../config/config.js';
import { DEFAULT_SCOPES, type ProfileFlags, type ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { AuthError, usageError } from '../errors.js';
import { accountLabel, type Credential } from '../domain/credential.js';
import { connectServer } from '../flows/server.js';
import { accountFromUserinfo, describeServer } from '../providers/resolve.js';
import { requireUnlocked } from '../mfa/guard.js';
import { bearerTokenProblem, checkIdTokenPolicy, credentialFromTokens } from '../flows/tokens.js';
import { sanitize } from '../ui/text.js';
import { startSpinner } from '../ui/spinner.js';
import { clientSecretFor, loadProfile, storeFor } from '../app/context.js';
import { storeUnderLock } from '../store/profile-lock.js';

type TokenResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

export interface LoginOptions extends ProfileFlags {
  device?: boolean;
  browser?: boolean;
  /** commander's --no-browser sets this false. */
  launchBrowser?: boolean;
  timeout?: number;
  qr?: boolean;
  /** Read a token or API key from stdin (never argv) and store it as a static credential. */
  withToken?: boolean;
  /** Service account: the client_credentials grant. */
  clientCredentials?: boolean;
  color: boolean;
}

/** docs/design.md §2 flow choice for `auto`. */
function chooseFlow(flow: Flow, browser: { ok: boolean; reason: string }, hasDevice: boolean): { flow: 'browser' | 'device'; why: string } {
  if (flow === 'browser') return { flow: 'browser', why: 'the browser flow was requested' };
  if (flow === 'device') return { flow: 'device', why: 'the device flow was requested' };
  if (browser.ok) return { flow: 'browser', why: browser.reason };
  if (hasDevice) return { flow: 'device', why: `${browser.reason} and the provider supports the device flow` };
  return { flow: 'browser', why: `${browser.reason}, but the provider has no device flow; printing the URL instead` };
}

export async function runLogin(opts: LoginOptions, deps: Deps): Promise<void> {
  if (opts.device && opts.browser) throw usageError('--device and --browser cannot be used together.');
  if (opts.withToken || opts.clientCredentials) {
    const other = opts.withToken && opts.clientCredentials ? '--client-credentials' : opts.device ? '--device' : opts.browser ? '--browser' : opts.launchBrowser === false ? '--no-browser' : undefined;
    if (other) throw usageError(`${opts.withToken ? '--with-token' : '--client-credentials'} cannot be combined with ${other}.`);
  }
  const flags: ProfileFlags = { ...opts };
  if (opts.device) flags.flow = 'device';
  // --no-browser still means the loopback flow, just without launching anything (docs/design.md §2).
  if (opts.browser || (opts.launchBrowser === false && !opts.device)) flags.flow = 'browser';
  let { config, profile } = loadProfile(deps, flags);
  await requireUnlocked(profile, deps);
  if (opts.withToken) return loginWithToken(opts, config, profile, deps);
  if (opts.clientCredentials) return loginWithClientCredentials(opts, config, profile, deps);
  if (!profile.issuer && deps.io.stdinIsTTY && deps.io.stderrIsTTY) {
    // docs/design.md §2: a first sign-in on a terminal runs the setup wizard, then signs in (as `gh auth login`).
    const { runSetup } = await import('./setup.js');
    const saved = await runSetup({ profile: profile.name, fromLogin: true }, deps);
    ({ config, profile } = loadProfile(deps, { ...flags, profile: saved.profile }));
  }
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
  const clientSecret = await clientSecretFor(profile, deps);
  const store = await storeFor(profile, deps);

  const server = await connectServer({ issuer: profile.issuer, clientId: profile.clientId, server: describeServer(profile.issuer, config), ...(clientSecret ? { clientSecret } : {}) }, deps);
  const metadata = server.serverMetadata();
  const browserState = opts.launchBrowser === false ? { ok: false, reason: '--no-browser was given' } : deps.browser.available();
  const choice = chooseFlow(profile.flow, browserState, Boolean(metadata.device_authorization_endpoint));
  deps.log.debug(`flow: ${choice.flow} (${choice.why})`);

  const issuer = profile.issuer;
  const clientId = profile.clientId;
  let stored: Credential | undefined;
  let callbackAt: number | undefined;
  const finish = async (tokens: TokenResponse) => {
    const claims = tokens.claims();
    if (claims) checkIdTokenPolicy(claims, clientId, deps.clock.now());
    const cred = credentialFromTokens(tokens, { kind: 'oauth', issuer, clientId, now: deps.clock.now(), requestedScopes: profile.scopes, resources: profile.resources });
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

  const signInWithDevice = async () => {
    if (!metadata.device_authorization_endpoint) {
      throw new AuthError('AUTH_PROVIDER_ERROR', `The provider at ${issuer} does not support the device flow (its metadata has no device_authorization_endpoint).`, {
        hint: 'Run `auth login --browser` instead (with --no-browser on a machine without a browser, forwarding the callback port).',
      });
    }
    const { runDeviceFlow } = await import('../flows/device.js');
    const spinner = lazySpinner(deps, 'Waiting for you to approve the sign-in…');
    try {
      const tokens = await runDeviceFlow(
        { config: server, scopes: profile.scopes, resources: profile.resources, signal: deps.signal, now: () => deps.clock.now() },
        {
          onUserCode: async (info) => {
            // R47, R53, R105: both the URI and the code, sanitised; the verification host and this
            // machine are named so a code relayed by a phisher stands out. Never the device_code (R52).
            const host = new URL(info.verificationUri).host;
            deps.log.info(`To sign in, open ${sanitize(info.verificationUri)} and enter the code: ${sanitize(info.userCode, 64)}`);
            deps.log.info('Only enter this code on that page; nobody will ever ask you for it.');
            const machine = sanitize(deps.hostname, 64);
            deps.log.info(`(This code signs in auth on ${machine}. Enter it at ${sanitize(host, 100)} only if you just started this sign-in on ${machine}.)`);
            if (opts.qr !== false && deps.io.stderrIsTTY) {
              const { renderQr } = await import('../ui/qr.js');
              deps.io.stderr.write(await renderQr(info.verificationUriComplete ?? info.verificationUri));
            }
          },
          onWaiting: () => spinner.start(),
          onNetworkRetry: (s) => deps.log.warn(`Network error while polling the provider; trying again in ${Math.round(s)} s.`),
        },
      );
      spinner.stop();
      await finish(tokens);
    } finally {
      spinner.stop();
    }
  };

  if (choice.flow === 'device') {
    await signInWithDevice();
  } else {
    // docs/design.md §2: in `auto` mode, with no browser command configured, a browser that fails to
    // launch means the device flow when the provider has one (the loopback listener is closed).
    const canFallBack = profile.flow === 'auto' && !deps.env.AUTH_BROWSER && !deps.env.BROWSER && Boolean(metadata.device_authorization_endpoint);
    const fallback = new AbortController();
    const { runLoopbackFlow } = await import('../flows/loopback.js');
    const spinner = lazySpinner(deps, 'Waiting for sign-in in the browser…');
    try {
      await runLoopbackFlow(
        {
          config: server,
          scopes: profile.scopes,
          resources: profile.resources,
          redirect: profile.redirect,
          timeoutMs: timeoutSeconds * 1000,
          signal: AbortSignal.any([deps.signal, fallback.signal]),
          launch: browserState.ok,
          openBrowser: async (url) => {
            try {
              // docs/security.md R85: the browser launcher (AUTH_BROWSER, or `open` → xdg-open → the browser)
              // has no use for the client secret, read above.
              await deps.browser.open(url, profile.clientSecretEnv ? [profile.clientSecretEnv] : []);
            } catch (e) {
              if (canFallBack) fallback.abort(e);
              throw e;
            }
          },
          now: () => deps.clock.now(),
        },
        {
          onAuthorizationUrl: (url) => {
            deps.log.info('Open this URL in your browser to sign in:');
            deps.log.info(`  ${url}`);
            if (!browserState.ok) deps.log.info(`(Not opening a browser: ${browserState.reason}.)`);
          },
          onBrowserFailed: (e) => {
            if (fallback.signal.aborted) deps.log.warn(`Could not open a browser (${sanitize(e.message)}); switching to the device flow, so the URL above no longer works.`);
            else deps.log.warn(`Could not open a browser (${sanitize(e.message)}); open the URL above yourself.`);
          },
          onWaiting: () => {
            if (!fallback.signal.aborted) spinner.start();
          },
          onCallback: () => {
            callbackAt = performance.now();
            spinner.stop();
          },
          onTokens: async (tokens) => {
            const cred = await finish(tokens);
            const who = accountLabel(cred.account);
            return { ok: true, title: 'Signed in', lines: [`You are signed in${who ? ` as ${who}` : ''}.`, 'You can close this tab and return to your terminal.'] };
          },
        },
      );
    } catch (e) {
      if (!fallback.signal.aborted || deps.signal.aborted || stored) throw e;
    } finally {
      spinner.stop();
    }
    if (fallback.signal.aborted && !stored) {
      deps.log.debug('flow: device (launching the browser failed and the provider supports the device flow)');
      await signInWithDevice();
    }
  }

  const cred = stored!;
  saveProfile(deps, profile, opts, config.active === undefined);
  const who = accountLabel(cred.account) ?? 'an unnamed account';
  deps.log.success(`Logged in to ${issuer} as ${sanitize(who, 120)} (profile ${profile.name})`);
  if (!cred.refreshToken) deps.log.info('  The provider issued no refresh token; you will need to log in again when the access token expires.');
}

const hasDisplayName = (account: Credential['account']) => Boolean(account?.email || account?.name || account?.username);

/** Flags and env given for this login become the profile's settings (docs/design.md §2). */
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

/** A spinner that can be started from a sync callback and stopped before it has loaded (no stray spinner). */
function lazySpinner(deps: Deps, text: string): { start(): void; stop(): void } {
  let spinner: { stop(): void } | undefined;
  let stopped = false;
  return {
    start() {
      if (stopped || spinner) return;
      void startSpinner(deps.io, deps.log.color, text).then((s) => {
        if (stopped) s.stop();
        else spinner = s;
      });
    },
    stop() {
      stopped = true;
      spinner?.stop();
    },
  };
}

/**
 * `auth login --with-token` (as `gh auth login --with-token`): a token or API key
 * from stdin — or a hidden prompt on a terminal — never from argv. Stored as a
 * static credential: no refresh token, no expiry, no discovery or network. The
 * issuer is recorded when one is configured (flag, env or profile); otherwise
 * the credential names the placeholder issuer `static`.
 */
async function loginWithToken(opts: LoginOptions, config: Config, profile: ResolvedProfile, deps: Deps): Promise<void> {
  const { canPrompt, readSecretInput } = await import('../mfa/prompt.js');
  let text: string;
  if (canPrompt(deps)) text = await readSecretInput(deps, 'token or API key');
  else text = await readAll(deps.io.stdin, MAX_STATIC_TOKEN + 2);
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines.length === 0) {
    throw usageError('No token was given on stdin.', 'Pipe it in, e.g. `auth login --with-token < token.txt` or `printenv MY_TOKEN | auth login --with-token`.');
  }
  if (lines.length > 1) throw usageError('stdin holds more than one line; --with-token expects exactly one token.', 'Pass a file or stream with the token alone on one line.');
  const token = lines[0]!;
  // The same RFC 6750 §2.1 b64token rule as for tokens a provider issues (flows/tokens.ts): anything
  // else could break, or add to, the Authorization header a script builds from `auth token`.
  if (token.length > MAX_STATIC_TOKEN) throw usageError('The token from stdin is too long, so it was not stored.');
  const problem = bearerTokenProblem(token);
  if (problem) throw usageError(`The token from stdin cannot be used as a Bearer token (${problem}), so it was not stored.`);
  const explicitScopes = Boolean(opts.scope?.length || deps.env.AUTH_SCOPES || config.profiles[profile.name]?.scopes);
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
  deps.log.success(`Stored the token as a static credential${profile.issuer ? ` for ${profile.issuer}` : ''} (profile ${profile.name}).`);
  deps.log.info('  It has no refresh token and no known expiry: `auth token` prints it as is; run this again when it stops working.');
}

/** Placeholder issuer of a static token stored without one (the credential format requires an issuer). */
const STATIC_ISSUER = 'static';
const MAX_STATIC_TOKEN = 16 * 1024;

async function readAll(stream: NodeJS.ReadableStream, max: number): Promise<string> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    text += chunk.toString();
    if (text.length > max) break;
  }
  return text;
}

/**
 * `auth login --client-credentials`: a service account signs in with the
 * client_credentials grant (flows/client-credentials.ts, the same path `auth
 * token` uses to re-issue a due token). The secret comes from
 * --client-secret-env / clientSecretEnv, or a private key file from the profile.
 */
async function loginWithClientCredentials(opts: LoginOptions, config: Config, profile: ResolvedProfile, deps: Deps): Promise<void> {
  if (!profile.issuer || !profile.clientId) {
    throw usageError(`Profile ${profile.name} has no ${!profile.issuer ? 'issuer' : 'client id'} configured for the service account.`, 'Pass --issuer <url> --client-id <id> --client-secret-env <VAR> (or set AUTH_ISSUER and AUTH_CLIENT_ID).');
  }
  const clientSecret = profile.privateKeyFile ? undefined : await clientSecretFor(profile, deps);
  // The default user scopes (openid, offline_access, …) mean nothing to a client_credentials grant:
  // send scopes only when they were asked for, else the provider grants the client's default.
  const explicitScopes = Boolean(opts.scope?.length || deps.env.AUTH_SCOPES || config.profiles[profile.name]?.scopes);
  const store = await storeFor(profile, deps);
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
  saveProfile(deps, profile, opts, config.active === undefined);
  deps.log.success(`Logged in to ${profile.issuer} as ${sanitize(profile.clientId, 120)} (profile ${profile.name})`);
  deps.log.info('  Service account: `auth token` gets a new token with the same grant when this one is due.');
}
