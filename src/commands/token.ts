import type { Deps } from '../deps.js';
import { AuthError, usageError } from '../errors.js';
import type { Credential } from '../store/credential.js';
import { ensureFreshCredential } from '../flows/refresh.js';
import { requireUnlocked } from '../mfa/guard.js';
import { clientSecretFor, loadProfile, storeFor } from './context.js';

export const TOKEN_FORMATS = ['raw', 'json', 'header'] as const;
export type TokenFormat = (typeof TOKEN_FORMATS)[number];

export interface TokenOptions {
  profile?: string;
  minTtl?: number;
  format?: string;
  idToken?: boolean;
  /** commander's --no-refresh sets this false. */
  refresh?: boolean;
}

/** The one formatter for `auth token` output (shared with the fast path). */
export function formatToken(cred: Credential, format: TokenFormat, idToken: boolean): string {
  if (idToken) return `${cred.idToken}\n`;
  switch (format) {
    case 'raw':
      return `${cred.accessToken}\n`;
    case 'header':
      return `Authorization: Bearer ${cred.accessToken}\n`;
    case 'json':
      return `${JSON.stringify({
        access_token: cred.accessToken,
        token_type: cred.tokenType,
        expires_at: cred.expiresAt === undefined ? null : Math.floor(cred.expiresAt / 1000),
        scope: cred.scope,
      })}\n`;
  }
}

export function parseTokenOptions(opts: TokenOptions): { format: TokenFormat; minTtlMs: number } {
  const format = (opts.format ?? 'raw') as TokenFormat;
  if (!TOKEN_FORMATS.includes(format)) throw usageError(`--format must be one of ${TOKEN_FORMATS.join(', ')}.`);
  const minTtl = opts.minTtl ?? 300;
  if (!Number.isFinite(minTtl) || minTtl < 0) throw usageError('--min-ttl must be a number of seconds (0 or more).');
  return { format, minTtlMs: minTtl * 1000 };
}

/** DESIGN §2 `auth token`: stdout carries the token and a newline, nothing else. */
export async function runToken(opts: TokenOptions, deps: Deps): Promise<void> {
  const { format, minTtlMs } = parseTokenOptions(opts);
  const { profile } = loadProfile(deps, { profile: opts.profile });
  await requireUnlocked(profile, deps);
  const store = await storeFor(profile, deps);
  const secret = profile.clientSecretEnv ? clientSecretFor(profile, deps) : undefined;
  const { credential } = await ensureFreshCredential({
    profile: profile.name,
    store,
    minTtlMs,
    noRefresh: opts.refresh === false,
    ...(secret ? { clientSecret: secret } : {}),
    deps,
  });
  if (opts.idToken && !credential.idToken) {
    throw new AuthError('AUTH_NOT_LOGGED_IN', `Profile ${profile.name} holds no ID token (the sign-in did not use the openid scope).`);
  }
  if (deps.io.stdoutIsTTY) deps.log.info('(This token grants access to your account; do not share it or paste it into untrusted places.)');
  deps.io.stdout.write(formatToken(credential, format, Boolean(opts.idToken)));
}
