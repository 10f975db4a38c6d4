/**
 * The rules of `auth agent` (docs/design.md "auth agent"), pure and dependency-free: grant
 * lifetimes, the rate limit on grant presentations, when a held credential is refreshed, and
 * what a request on the agent's socket may contain. src/agent/ applies them.
 */

/** Protocol version of the agent socket (one JSON object per line). */
export const AGENT_PROTOCOL_VERSION = 1;
/** A request line longer than this closes the connection. */
export const AGENT_MAX_LINE_BYTES = 64 * 1024;

export const DEFAULT_GRANT_TTL_MS = 8 * 3_600_000;
export const MAX_GRANT_TTL_MS = 30 * 86_400_000;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `8h`, `7d` → milliseconds; undefined for anything else (0 included). */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNITS[m[2]!]!;
  return ms > 0 ? ms : undefined;
}

/** A grant TTL the agent accepts: a duration from 1 s to 30 days. */
export function grantTtlValid(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= 1000 && ms <= MAX_GRANT_TTL_MS;
}

export const grantExpired = (grant: { expiresAt: number }, now: number) => grant.expiresAt <= now;

/** More than this many failed grant presentations within the window refuse every grant presentation. */
export const GRANT_FAILURE_LIMIT = 10;
export const GRANT_FAILURE_WINDOW_MS = 60_000;

/** The failures still inside the rolling window (oldest first). */
export function recentFailures(failures: readonly number[], now: number): number[] {
  return failures.filter((t) => t > now - GRANT_FAILURE_WINDOW_MS && t <= now);
}

/**
 * Whether grant presentations are refused now: more than GRANT_FAILURE_LIMIT failures in the
 * last minute. `retryAt`: when the window has passed enough of them to accept again.
 */
export function grantsThrottled(failures: readonly number[], now: number): { throttled: boolean; retryAt?: number } {
  const recent = recentFailures(failures, now);
  if (recent.length <= GRANT_FAILURE_LIMIT) return { throttled: false };
  // Accepting again needs the count down to the limit: the (n - limit)th oldest must leave the window.
  const leaving = recent[recent.length - GRANT_FAILURE_LIMIT - 1]!;
  return { throttled: true, retryAt: leaving + GRANT_FAILURE_WINDOW_MS };
}

/** A held credential is refreshed this long before it expires, minus up to REFRESH_JITTER_MS. */
export const REFRESH_LEAD_MS = 300_000;
export const REFRESH_JITTER_MS = 30_000;

/**
 * When the agent refreshes a held credential (epoch ms), or undefined when it never needs to
 * (no expiry, or nothing to refresh with). `jitter` in [0, 1) spreads agents that started
 * together. A token whose whole lifetime is shorter than the lead is refreshed at half its
 * lifetime instead, so a short-lived token does not cause a refresh loop.
 */
export function refreshAt(cred: { expiresAt?: number; obtainedAt: number }, refreshable: boolean, jitter: number): number | undefined {
  if (!refreshable || cred.expiresAt === undefined) return undefined;
  const early = cred.expiresAt - REFRESH_LEAD_MS - Math.floor(Math.min(Math.max(jitter, 0), 0.999) * REFRESH_JITTER_MS);
  const half = cred.obtainedAt + Math.floor((cred.expiresAt - cred.obtainedAt) / 2);
  return Math.max(early, Math.min(half, cred.expiresAt));
}

export const BACKOFF_MIN_MS = 30_000;
export const BACKOFF_MAX_MS = 600_000;

/** The wait after the n-th consecutive failed background refresh (n ≥ 1): 30 s doubling, at most 10 min. */
export function refreshBackoffMs(failures: number): number {
  const n = Math.max(1, Math.floor(failures));
  return Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(n - 1, 20));
}

export type AgentAuth = { local: string } | { grant: string };

export interface TokenAsk {
  op: 'token';
  /** `-p` as given to the client. */
  profile?: string;
  /** The client's AUTH_PROFILE. */
  envProfile?: string;
  minTtl: number;
  idToken: boolean;
  format: string;
  execInfo?: string;
}

export interface GitAsk {
  op: 'git';
  protocol?: string;
  host: string;
}

export type AgentRequest =
  | ({ v: 1; auth?: AgentAuth } & TokenAsk)
  | ({ v: 1; auth?: AgentAuth } & GitAsk)
  | { v: 1; auth?: AgentAuth; op: 'ping' | 'status' | 'stop' | 'grants' }
  | { v: 1; auth?: AgentAuth; op: 'grant'; profile?: string; ttlMs: number }
  | { v: 1; auth?: AgentAuth; op: 'revoke'; id: string };

const optString = (v: unknown, max = 1024) => v === undefined || (typeof v === 'string' && v.length <= max);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A request line checked field by field: the request, or why it is refused. */
export function parseAgentRequest(line: string): { ok: true; request: AgentRequest } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, error: 'the request is not JSON' };
  }
  if (!isObject(raw)) return { ok: false, error: 'the request is not a JSON object' };
  if (raw.v !== AGENT_PROTOCOL_VERSION) return { ok: false, error: `unsupported protocol version ${JSON.stringify(raw.v)?.slice(0, 20)} (this agent speaks ${AGENT_PROTOCOL_VERSION})` };
  const auth = raw.auth;
  if (auth !== undefined) {
    if (!isObject(auth)) return { ok: false, error: 'auth must be an object' };
    const keys = Object.keys(auth);
    if (keys.length !== 1 || !['local', 'grant'].includes(keys[0]!) || typeof auth[keys[0]!] !== 'string' || (auth[keys[0]!] as string).length > 512) return { ok: false, error: 'auth must be {local} or {grant}' };
  }
  const bad = (field: string) => ({ ok: false as const, error: `bad field ${field}` });
  switch (raw.op) {
    case 'token':
      if (!optString(raw.profile, 200)) return bad('profile');
      if (!optString(raw.envProfile, 200)) return bad('envProfile');
      if (typeof raw.minTtl !== 'number' || !Number.isSafeInteger(raw.minTtl) || raw.minTtl < 0) return bad('minTtl');
      if (typeof raw.idToken !== 'boolean') return bad('idToken');
      if (typeof raw.format !== 'string' || raw.format.length > 40) return bad('format');
      if (!optString(raw.execInfo, 16 * 1024)) return bad('execInfo');
      break;
    case 'git':
      if (!optString(raw.protocol, 40)) return bad('protocol');
      if (typeof raw.host !== 'string' || raw.host === '' || raw.host.length > 300) return bad('host');
      break;
    case 'grant':
      if (!optString(raw.profile, 200)) return bad('profile');
      if (typeof raw.ttlMs !== 'number' || !grantTtlValid(raw.ttlMs)) return bad('ttlMs');
      break;
    case 'revoke':
      if (typeof raw.id !== 'string' || raw.id === '' || raw.id.length > 100) return bad('id');
      break;
    case 'ping':
    case 'status':
    case 'stop':
    case 'grants':
      break;
    default:
      return { ok: false, error: `unknown op ${JSON.stringify(raw.op)?.slice(0, 40)}` };
  }
  return { ok: true, request: raw as unknown as AgentRequest };
}

/** Admin operations (grants, stop, status) are for local callers only. */
export const localOnly = (op: AgentRequest['op']) => op !== 'token' && op !== 'git' && op !== 'ping';
