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
/** A grant client waits for the agent's own bound on a request (30 s) and a little more. */
const GRANT_ASK_TIMEOUT_MS = 35_000;

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

/**
 * Whether our agent's socket is at the path (no socket → no agent, and nothing to load). A socket
 * another user owns is not asked: its answers would be printed as our tokens.
 */
export function socketPresent(socketPath: string): boolean {
  try {
    const st = lstatSync(socketPath);
    return st.isSocket() && (typeof process.getuid !== 'function' || st.uid === process.getuid());
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
  const line = `${JSON.stringify({ v: AGENT_PROTOCOL_VERSION, ...request })}\n`;
  return new Promise((resolve) => {
    let done = false;
    let buf = '';
    let close = () => undefined as void;
    const finish = (value: AgentResponse | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      close();
      resolve(value);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const onData = (chunk: string) => {
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
    };
    try {
      close = rawPipe(socketPath, line, onData, () => finish(undefined)) ?? netSocket(socketPath, line, onData, () => finish(undefined));
    } catch {
      finish(undefined);
    }
  });
}

/** Over node:net: the portable way (Windows named pipes), which costs ~5-10% of `auth token` to load. */
function netSocket(socketPath: string, line: string, onData: (s: string) => void, onEnd: () => void): () => void {
  const net = require('node:net') as typeof import('node:net');
  const sock = net.createConnection(socketPath);
  sock.setEncoding('utf8');
  sock.on('error', onEnd);
  sock.on('close', onEnd);
  sock.on('connect', () => sock.write(line));
  sock.on('data', onData);
  return () => sock.destroy();
}

interface PipeHandle {
  connect(req: object, path: string): number;
  writeUtf8String(req: object, s: string): number;
  readStart(): number;
  close(): void;
  onread: (buf: ArrayBuffer | undefined) => void;
}
interface PipeBindings {
  pipe: { Pipe: new (type: number) => PipeHandle; PipeConnectWrap: new () => { oncomplete?: (status: number) => void; address?: string }; constants: { SOCKET: number } };
  stream: { WriteWrap: new () => { handle?: PipeHandle; oncomplete?: () => void; async?: boolean }; streamBaseState: Int32Array; kReadBytesOrError: number; kArrayBufferOffset: number };
}

/**
 * The same exchange on Node's pipe handle, without loading node:net and the stream machinery
 * behind it (docs/design.md §7: the agent's answer must cost about as much as starting Node).
 * Undefined when the binding is not what this expects (then node:net is used).
 */
function rawPipe(socketPath: string, line: string, onData: (s: string) => void, onEnd: () => void): (() => void) | undefined {
  const bind = (process as unknown as { binding?: (name: string) => unknown }).binding;
  if (process.platform === 'win32' || typeof bind !== 'function') return undefined;
  const flags = `${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`;
  if (flags.includes('deprecation')) return undefined;
  let b: PipeBindings;
  try {
    b = { pipe: bind.call(process, 'pipe_wrap') as PipeBindings['pipe'], stream: bind.call(process, 'stream_wrap') as PipeBindings['stream'] };
    if (typeof b.pipe?.Pipe !== 'function' || typeof b.stream?.WriteWrap !== 'function' || !(b.stream.streamBaseState instanceof Int32Array)) return undefined;
  } catch {
    return undefined;
  }
  const handle = new b.pipe.Pipe(b.pipe.constants.SOCKET);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    handle.close();
  };
  const req = new b.pipe.PipeConnectWrap();
  req.address = socketPath;
  req.oncomplete = (status) => {
    if (status < 0) return onEnd();
    const w = new b.stream.WriteWrap();
    w.handle = handle;
    w.oncomplete = () => undefined;
    w.async = false;
    handle.onread = (ab) => {
      const n = b.stream.streamBaseState[b.stream.kReadBytesOrError]!;
      if (n <= 0 || !ab) return onEnd();
      onData(Buffer.from(ab, b.stream.streamBaseState[b.stream.kArrayBufferOffset]!, n).toString('utf8'));
    };
    if (handle.writeUtf8String(w, line) < 0 || handle.readStart() < 0) onEnd();
  };
  if (handle.connect(req, socketPath) < 0) {
    close();
    queueMicrotask(onEnd);
    return () => undefined;
  }
  return close;
}

/** What a client does with the agent's answer to a token or git request. */
export type AgentVerdict = { kind: 'out'; out: string } | { kind: 'error'; error: string; exit: number } | undefined;

/**
 * Asks the agent for output (`auth token`, `auth git-credential get`, `auth exec`) when its
 * socket is there; undefined means "do what you would do without an agent". A local caller is
 * never told an error: the agent defers and the normal path speaks. A grant caller (no stores
 * here) gets the agent's error and exit code.
 */
export async function agentOutput(env: NodeJS.ProcessEnv, home: string, request: Record<string, unknown>): Promise<AgentVerdict> {
  const socketPath = agentSocketPath(env, process.platform, home);
  if (!socketPresent(socketPath)) return undefined;
  const auth = clientAuth(env, socketPath);
  if (!auth) return undefined;
  // A grant client has no stores to fall back to: it waits as long as the agent may take (a refresh).
  const res = await askAgent(socketPath, { ...request, auth }, 'grant' in auth ? GRANT_ASK_TIMEOUT_MS : FAST_ASK_TIMEOUT_MS);
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
