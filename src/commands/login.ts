import type { Config } from '../config/config.js';
import type { ProfileFlags, ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { AuthError, usageError } from '../errors.js';
import { accountLabel } from '../domain/credential.js';
import { requireUnlocked } from '../mfa/guard.js';
import { sanitize } from '../ui/text.js';
import { startSpinner } from '../ui/spinner.js';
import { loadProfile } from '../app/context.js';
import { MAX_STATIC_TOKEN, rememberProfile, signIn, signInServiceAccount, storeStaticToken, type GivenSettings, type SignInProfile, type SignInView } from '../app/sign-in.js';

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
  const ready: SignInProfile = { ...profile, issuer: profile.issuer, clientId: profile.clientId };
  const { credential } = await signIn({ profile: ready, config, launchBrowser: opts.launchBrowser !== false, timeoutMs: timeoutSeconds * 1000 }, deps, terminalView(opts, deps));
  rememberProfile(deps, ready, givenSettings(opts, deps));
  const who = accountLabel(credential.account) ?? 'an unnamed account';
  deps.log.success(`Logged in to ${ready.issuer} as ${sanitize(who, 120)} (profile ${ready.name})`);
  if (!credential.refreshToken) deps.log.info('  The provider issued no refresh token; you will need to log in again when the access token expires.');
}

function givenSettings(opts: LoginOptions, deps: Deps): GivenSettings {
  return {
    scopes: Boolean(opts.scope?.length || deps.env.AUTH_SCOPES),
    resources: Boolean(opts.resource?.length),
    ...(opts.clientSecretEnv ? { clientSecretEnv: opts.clientSecretEnv } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
  };
}

/** How a sign-in looks on the terminal: instructions on stderr, a spinner while waiting, the QR code. */
function terminalView(opts: LoginOptions, deps: Deps): SignInView {
  // One spinner per flow (a failed browser launch moves on to the device flow): started when the
  // flow waits, stopped for good at the callback or the end.
  const spinners = new Map<'browser' | 'device', { start(): void; stop(): void }>();
  let current: { stop(): void } | undefined;
  return {
    async deviceCode(info) {
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
    authorizationUrl(url, browser) {
      deps.log.info('Open this URL in your browser to sign in:');
      deps.log.info(`  ${url}`);
      if (!browser.ok) deps.log.info(`(Not opening a browser: ${browser.reason}.)`);
    },
    browserFailed(e, switching) {
      if (switching) deps.log.warn(`Could not open a browser (${sanitize(e.message)}); switching to the device flow, so the URL above no longer works.`);
      else deps.log.warn(`Could not open a browser (${sanitize(e.message)}); open the URL above yourself.`);
    },
    waiting(kind) {
      let spinner = spinners.get(kind);
      if (!spinner) {
        spinner = lazySpinner(deps, kind === 'device' ? 'Waiting for you to approve the sign-in…' : 'Waiting for sign-in in the browser…');
        spinners.set(kind, spinner);
      }
      current = spinner;
      spinner.start();
    },
    doneWaiting() {
      current?.stop();
    },
    networkRetry(s) {
      deps.log.warn(`Network error while polling the provider; trying again in ${Math.round(s)} s.`);
    },
    browserPage(cred) {
      const who = accountLabel(cred.account);
      return { title: 'Signed in', lines: [`You are signed in${who ? ` as ${who}` : ''}.`, 'You can close this tab and return to your terminal.'] };
    },
  };
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
  await storeStaticToken(profile, lines[0]!, explicitScopes(opts, config, profile, deps), deps);
  deps.log.success(`Stored the token as a static credential${profile.issuer ? ` for ${profile.issuer}` : ''} (profile ${profile.name}).`);
  deps.log.info('  It has no refresh token and no known expiry: `auth token` prints it as is; run this again when it stops working.');
}

/** Scopes were asked for (flag or env) or configured, rather than the defaults. */
function explicitScopes(opts: LoginOptions, config: Config, profile: ResolvedProfile, deps: Deps): boolean {
  return Boolean(opts.scope?.length || deps.env.AUTH_SCOPES || config.profiles[profile.name]?.scopes);
}

async function readAll(stream: NodeJS.ReadableStream, max: number): Promise<string> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    text += chunk.toString();
    if (text.length > max) break;
  }
  return text;
}

/** `auth login --client-credentials`: a service account (app/sign-in.ts signInServiceAccount). */
async function loginWithClientCredentials(opts: LoginOptions, config: Config, profile: ResolvedProfile, deps: Deps): Promise<void> {
  if (!profile.issuer || !profile.clientId) {
    throw usageError(`Profile ${profile.name} has no ${!profile.issuer ? 'issuer' : 'client id'} configured for the service account.`, 'Pass --issuer <url> --client-id <id> --client-secret-env <VAR> (or set AUTH_ISSUER and AUTH_CLIENT_ID).');
  }
  const ready: SignInProfile = { ...profile, issuer: profile.issuer, clientId: profile.clientId };
  await signInServiceAccount(ready, config, explicitScopes(opts, config, profile, deps), deps);
  rememberProfile(deps, ready, givenSettings(opts, deps));
  deps.log.success(`Logged in to ${ready.issuer} as ${sanitize(ready.clientId, 120)} (profile ${ready.name})`);
  deps.log.info('  Service account: `auth token` gets a new token with the same grant when this one is due.');
}
