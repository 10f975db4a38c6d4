import type { Deps } from '../deps.js';
import { AuthError, usageError } from '../errors.js';
import { ensureFreshCredential, expiredError } from '../flows/refresh.js';
import { expiredToken } from '../store/freshness.js';
import { requireUnlocked } from '../mfa/guard.js';
import { clientSecretFor, loadProfile, storeFor } from './context.js';
import { formatToken, TOKEN_FORMATS, TTY_TOKEN_WARNING, type TokenFormat } from '../fast/token-output.js';

export { formatToken, TOKEN_FORMATS, type TokenFormat } from '../fast/token-output.js';

export interface TokenOptions {
  profile?: string;
  minTtl?: number;
  format?: string;
  idToken?: boolean;
  /** commander's --no-refresh sets this false. */
  refresh?: boolean;
}

export function parseTokenOptions(opts: TokenOptions): { format: TokenFormat; minTtlMs: number } {
  const format = (opts.format ?? 'raw') as TokenFormat;
  if (!TOKEN_FORMATS.includes(format)) throw usageError(`--format must be one of ${TOKEN_FORMATS.join(', ')}.`);
  const minTtl = opts.minTtl ?? 300;
  if (!Number.isFinite(minTtl) || minTtl < 0) throw usageError('--min-ttl must be a number of seconds (0 or more).');
  return { format, minTtlMs: minTtl * 1000 };
}

/** docs/design.md §2 `auth token`: stdout carries the token and a newline, nothing else. */
export async function runToken(opts: TokenOptions, deps: Deps): Promise<void> {
  const { format, minTtlMs } = parseTokenOptions(opts);
  const { profile } = loadProfile(deps, { profile: opts.profile });
  await requireUnlocked(profile, deps);
  const store = await storeFor(profile, deps);
  const secret = profile.clientSecretEnv ? await clientSecretFor(profile, deps) : undefined;
  const { credential } = await ensureFreshCredential({
    profile: profile.name,
    store,
    minTtlMs,
    noRefresh: opts.refresh === false,
    idToken: Boolean(opts.idToken),
    ...(secret ? { clientSecret: secret } : {}),
    deps,
  });
  if (opts.idToken && !credential.idToken) {
    throw new AuthError('AUTH_NOT_LOGGED_IN', `Profile ${profile.name} holds no ID token (the sign-in did not use the openid scope).`);
  }
  // A refresh answer may carry no new ID token (OpenID Connect Core §12.2 makes it optional):
  // the old one is kept, and it is never printed once expired.
  const expired = opts.idToken ? expiredToken(credential, deps.clock.now(), true) : undefined;
  if (expired) throw expiredError(profile.name, expired === 'ID token' ? 'the ID token has expired and the provider sent no new one with the refresh' : `the ${expired} has expired`);
  if (deps.io.stdoutIsTTY) deps.log.info(TTY_TOKEN_WARNING);
  deps.io.stdout.write(formatToken(credential, format, Boolean(opts.idToken)));
}
