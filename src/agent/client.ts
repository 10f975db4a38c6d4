import { lstatSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { resolvePaths } from '../config/paths.js';
import { AGENT_MAX_LINE_BYTES, AGENT_PROTOCOL_VERSION, type AgentAuth } from '../domain/agent-rules.js';

/**
 * The client side of `auth agent` (docs/design.md "auth agent"): where the socket is, how a
 * client proves who it is, and one request/response over the socket. Dependency-light on
 * purpose: the `auth token` fast path imports it (node:net is loaded only when a socket exists).
 */

/** What the fast path waits for the agent (connect + answer) before it falls back silently. */
const FAST_ASK_TIMEOUT_MS = 2000;

/**
 * `$AUTH_AGENT_SOCK`, else `<AUTH_HOME>/agent.sock` (everything lives under AUTH_HOME), else
 * `$XDG_RUNTIME_DIR/authcli/agent.sock`, else `<state dir>/agent.sock`.
 */
export function agentSocketPath(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  if (env.AUTH_AGENT_SOCK) return env.AUTH_AGENT_SOCK;
  if (env.AUTH_HOME) return join(env.AUTH_HOME, 'agent.sock');
  if (env.XDG_RUNTIME_DIR && platform !== 'win32') return join(env.XDG_RUNTIME_DIR, 'authcli', 'agent.sock');
  return join(resolvePaths(env, platform, home).stateDir, 'agent.sock');
}

/** The local key: the agent writes it beside its socket; local clients present it. */
export const agentKeyFile = (socketPath: string) => join(dirname(socketPath), 'agent.key');

export type AgentResponse =
  | { ok: true; out?: string; [k: string]: unknown }
  | { ok: false; defer?: boolean; error?: string; exit?: number };

/**
 * How this client authenticates: AUTH_AGENT_TOKEN (a grant, e.g. on the far side of `ssh -R`),
 * else the local key file beside the socket; undefined when neither is there.
 */
function clientAuth(env: NodeJS.ProcessEnv, socketPath: string): AgentAuth | undefined {
  if (env.AUTH_AGENT_TOKEN) return { grant: env.AUTH_AGENT_TOKEN.trim() };
  try {
    const key = readFileSync(agentKeyFile(socketPath), 'utf8').trim();
    return key ? { local: key } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether something is at the socket path (no socket → no agent, and nothing to load). */
export function socketPresent(socketPath: string): boolean {
  try {
    return lstatSync(socketPath).isSocket();
  } catch {
    return false;
  }
}

/**
 * One request and its answer over the socket, within `timeoutMs` (connect + answer). Any
 * failure — no agent, a refused connection, a timeout, a garbled or oversized answer — is
 * undefined, and the caller carries on without the agent.
 */
export function askAgent(socketPath: string, request: Record<string, unknown>, timeoutMs: number): Promise<AgentResponse | undefined> {
  // Loaded only when an agent socket exists: node:net costs every `auth token` otherwise.
  const net = require('node:net') as typeof import('node:net');
  return new Promise((resolve) => {
    let done = false;
    let buf = '';
    const sock = net.createConnection(socketPath);
    const finish = (value: AgentResponse | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', () => finish(undefined));
    sock.on('close', () => finish(undefined));
    sock.on('connect', () => sock.write(`${JSON.stringify({ v: AGENT_PROTOCOL_VERSION, ...request })}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl === -1) {
        if (buf.length > 4 * AGENT_MAX_LINE_BYTES) finish(undefined);
        return;
      }
      try {
        const res = JSON.parse(buf.slice(0, nl)) as AgentResponse;
        finish(res && typeof res === 'object' && typeof res.ok === 'boolean' ? res : undefined);
      } catch {
        finish(undefined);
      }
    });
  });
}

/** What a client does with the agent's answer to a token or git request. */
export type AgentVerdict = { kind: 'out'; out: string } | { kind: 'error'; error: string; exit: number } | undefined;

/**
 * Asks the agent for output (`auth token`, `auth git-credential get`, `auth exec`) when its
 * socket is there; undefined means "do what you would do without an agent". A local caller is
 * never told an error: the agent defers and the normal path speaks. A grant caller (no stores
 * here) gets the agent's error and exit code.
 */
export async function agentOutput(env: NodeJS.ProcessEnv, home: string, request: Record<string, unknown>, timeoutMs = FAST_ASK_TIMEOUT_MS): Promise<AgentVerdict> {
  const socketPath = agentSocketPath(env, process.platform, home);
  if (!socketPresent(socketPath)) return undefined;
  const auth = clientAuth(env, socketPath);
  if (!auth) return undefined;
  const res = await askAgent(socketPath, { ...request, auth }, timeoutMs);
  if (!res) return undefined;
  if (res.ok) return typeof res.out === 'string' ? { kind: 'out', out: res.out } : undefined;
  if (res.defer || !('grant' in auth)) return undefined;
  return { kind: 'error', error: typeof res.error === 'string' ? res.error : 'the agent refused the request', exit: typeof res.exit === 'number' ? res.exit : 1 };
}

/** The variables that change how a profile resolves (config/resolve.ts): the agent defers when the caller's differ from its own. */
const PROFILE_VARIABLES = ['AUTH_ISSUER', 'AUTH_CLIENT_ID', 'AUTH_SCOPES', 'AUTH_STORAGE'] as const;

export function agentRequestEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROFILE_VARIABLES) if (env[name]) out[name] = env[name];
  return out;
}

export function sameProfileEnv(a: Record<string, unknown>, env: NodeJS.ProcessEnv): boolean {
  return PROFILE_VARIABLES.every((name) => (a[name] ?? '') === (env[name] || ''));
}

/**
 * The full CLI's question to the agent for `auth token` and `auth exec` (when the fast path has
 * not asked already): the same request the fast path sends.
 */
export function agentTokenRequest(env: NodeJS.ProcessEnv, ask: { profile?: string; minTtl: number; idToken: boolean; format: string }): Record<string, unknown> {
  return {
    op: 'token',
    ...(ask.profile === undefined ? {} : { profile: ask.profile }),
    ...(env.AUTH_PROFILE ? { envProfile: env.AUTH_PROFILE } : {}),
    minTtl: ask.minTtl,
    idToken: ask.idToken,
    format: ask.format,
    ...(env.KUBERNETES_EXEC_INFO === undefined ? {} : { execInfo: env.KUBERNETES_EXEC_INFO }),
    env: agentRequestEnv(env),
  };
}

/** Whether a client asks the agent at all: not with --debug, the test clock, or TLS checks off (those are the CLI's to report). */
export function mayAskAgent(env: NodeJS.ProcessEnv, debug: boolean): boolean {
  return !debug && env.AUTH_DEBUG !== '1' && env.NODE_TLS_REJECT_UNAUTHORIZED !== '0' && env.AUTH_TEST_NOW_MS === undefined;
}
