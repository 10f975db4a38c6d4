import type { Deps } from '../deps.js';
import { usageError } from '../errors.js';
import { getToken } from '../app/get-token.js';
import { agentOutput, agentTokenRequest, mayAskAgent } from '../agent/client.js';
import { AuthError, type ErrorCode } from '../errors.js';
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
  if (opts.refresh !== false) {
    const served = await askAgentFirst(deps, { ...(opts.profile === undefined ? {} : { profile: opts.profile }), minTtl: minTtlMs / 1000, idToken, format });
    if (served !== undefined) {
      if (deps.io.stdoutIsTTY) deps.log.info(TTY_TOKEN_WARNING);
      deps.io.stdout.write(served);
      return;
    }
  }
  const { credential } = await getToken({ guarded: true, serveValidOnOutage: true, minTtlMs, idToken, noRefresh: opts.refresh === false, ...(opts.profile === undefined ? {} : { profile: opts.profile }) }, deps);
  if (deps.io.stdoutIsTTY) deps.log.info(TTY_TOKEN_WARNING);
  deps.io.stdout.write(formatToken(credential, format, idToken, deps.env.KUBERNETES_EXEC_INFO));
}

const CODE_FOR_EXIT: Record<number, ErrorCode> = { 2: 'AUTH_USAGE', 4: 'AUTH_NOT_LOGGED_IN' };

/**
 * A running agent's answer for `auth token` / `auth exec` (docs/architecture.md "The agent"):
 * its output, or undefined (no agent, or it deferred) — then the command runs as without one.
 * A grant client's failure is the agent's message and exit code.
 */
export async function askAgentFirst(deps: Deps, ask: { profile?: string; minTtl: number; idToken: boolean; format: string }): Promise<string | undefined> {
  if (deps.agentAsked || !mayAskAgent(deps.env, deps.log.debugEnabled)) return undefined;
  const verdict = await agentOutput(deps.env, deps.home, agentTokenRequest(deps.env, ask));
  if (!verdict) return undefined;
  if (verdict.kind === 'out') return verdict.out;
  throw new AuthError(CODE_FOR_EXIT[verdict.exit] ?? 'AUTH_FAILED', verdict.error);
}
