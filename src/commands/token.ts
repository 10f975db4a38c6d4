import type { Deps } from '../deps.js';
import { usageError } from '../errors.js';
import { getToken } from '../app/get-token.js';
import { DEFAULT_MIN_TTL_S } from '../domain/token-plan.js';
import { formatToken, TOKEN_FORMATS, TTY_TOKEN_WARNING, type TokenFormat } from '../domain/token-output.js';


export interface TokenOptions {
  profile?: string;
  minTtl?: number;
  format?: string;
  idToken?: boolean;
  /** commander's --no-refresh sets this false. */
  refresh?: boolean;
}

function parseTokenOptions(opts: TokenOptions): { format: TokenFormat; minTtlMs: number } {
  const format = (opts.format ?? 'raw') as TokenFormat;
  if (!TOKEN_FORMATS.includes(format)) throw usageError(`--format must be one of ${TOKEN_FORMATS.join(', ')}.`);
  const minTtl = opts.minTtl ?? DEFAULT_MIN_TTL_S;
  if (!Number.isFinite(minTtl) || minTtl < 0) throw usageError('--min-ttl must be a number of seconds (0 or more).');
  return { format, minTtlMs: minTtl * 1000 };
}

/** docs/design.md §2 `auth token`: stdout carries the token and a newline, nothing else. */
export async function runToken(opts: TokenOptions, deps: Deps): Promise<void> {
  const { format, minTtlMs } = parseTokenOptions(opts);
  const idToken = Boolean(opts.idToken);
  const { credential } = await getToken({ guarded: true, serveValidOnOutage: true, minTtlMs, idToken, noRefresh: opts.refresh === false, ...(opts.profile === undefined ? {} : { profile: opts.profile }) }, deps);
  if (deps.io.stdoutIsTTY) deps.log.info(TTY_TOKEN_WARNING);
  deps.io.stdout.write(formatToken(credential, format, idToken, deps.env.KUBERNETES_EXEC_INFO));
}
