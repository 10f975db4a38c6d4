import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import type { Deps } from '../deps.js';
import { agentKeyFile, agentSocketPath, askAgent, socketPresent, type AgentResponse } from '../agent/client.js';
import { DEFAULT_GRANT_TTL_MS, grantTtlValid, parseDuration } from '../domain/agent-rules.js';
import { AuthError, ExitCode, usageError } from '../errors.js';
import { requestDeps, startDetached } from '../system.js';
import { relativeTime, sanitize } from '../ui/text.js';

/** How long `start` waits for the new agent to answer, and `stop` for it to be gone. */
const START_WAIT_MS = 10_000;
const ADMIN_TIMEOUT_MS = 5000;

const socketOf = (deps: Deps) => agentSocketPath(deps.env, deps.platform, deps.home);

/** An admin request with the local key (grants never reach these). Undefined: no agent answers. */
async function adminAsk(deps: Deps, request: Record<string, unknown>): Promise<AgentResponse | undefined> {
  const socket = socketOf(deps);
  if (!socketPresent(socket)) return undefined;
  let key = '';
  try {
    key = readFileSync(agentKeyFile(socket), 'utf8').trim();
  } catch {
    return undefined;
  }
  return askAgent(socket, { ...request, auth: { local: key } }, ADMIN_TIMEOUT_MS);
}

function notRunning(deps: Deps): AuthError {
  return new AuthError('AUTH_FAILED', `No auth agent is running (socket ${socketOf(deps)}).`, { hint: 'Start one with `auth agent start`.' });
}

async function adminOrFail(deps: Deps, request: Record<string, unknown>): Promise<AgentResponse & { ok: true }> {
  const res = await adminAsk(deps, request);
  if (!res) throw notRunning(deps);
  if (!res.ok) throw new AuthError(res.exit === 2 ? 'AUTH_USAGE' : 'AUTH_FAILED', `The agent refused: ${sanitize(res.error ?? 'no reason given', 300)}.`);
  return res;
}

/** The opt-in event log (AUTH_AGENT_LOG): 0600, one line per event, never a secret. */
function eventLog(deps: Deps): (event: string) => void {
  const file = deps.env.AUTH_AGENT_LOG;
  if (!file) return () => undefined;
  closeSync(openSync(file, 'a', 0o600));
  return (event) => {
    try {
      appendFileSync(file, `${new Date().toISOString()} ${event}\n`, { mode: 0o600 });
    } catch {
      // a log that cannot be written never stops the agent
    }
  };
}

/** The agent itself (and the token use case and protocol stack under it) only for start and run: `auth status` asks an agent through this module. */
const agentServer = () => import('../agent/server.js');

async function prepared(deps: Deps): Promise<'free' | 'running'> {
  const { AgentSetupError, prepareSocket } = await agentServer();
  try {
    return await prepareSocket(socketOf(deps));
  } catch (e) {
    if (e instanceof AgentSetupError) throw new AuthError('AUTH_FAILED', `Cannot start the agent: ${e.message}`);
    throw e;
  }
}

/** `auth agent run`: the agent in the foreground until `auth agent stop`, SIGTERM or SIGINT. */
export async function runAgentRun(deps: Deps): Promise<number> {
  const socketPath = socketOf(deps);
  if ((await prepared(deps)) === 'running') throw new AuthError('AUTH_FAILED', `An auth agent is already running at ${socketPath}.`, { hint: 'Stop it first with `auth agent stop`, or set AUTH_AGENT_SOCK to another path.' });
  const { Agent } = await agentServer();
  const agent = new Agent({ socketPath, newDeps: () => requestDeps(deps), log: eventLog(deps) });
  await agent.listen();
  deps.signal.addEventListener('abort', () => agent.wipe('signal'), { once: true });
  deps.log.info(`auth agent listening on ${socketPath} (pid ${process.pid}).`);
  await agent.done;
  return ExitCode.ok;
}

/** `auth agent start`: `run` in the background; the socket path on stdout once it answers. */
export async function runAgentStart(deps: Deps): Promise<number> {
  const socketPath = socketOf(deps);
  if ((await prepared(deps)) === 'running') {
    deps.log.info(`An auth agent is already running at ${socketPath}.`);
    deps.io.stdout.write(`${socketPath}\n`);
    return ExitCode.ok;
  }
  const child = startDetached(deps.authPath, ['agent', 'run'], deps.env);
  const until = Date.now() + START_WAIT_MS;
  while (Date.now() < until) {
    const res = await adminAsk(deps, { op: 'ping' });
    if (res?.ok) {
      deps.io.stdout.write(`${socketPath}\n`);
      deps.log.info(`auth agent started (pid ${String(res.pid)}).`);
      return ExitCode.ok;
    }
    if (child.exited()) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new AuthError('AUTH_FAILED', `The agent did not answer on ${socketPath} within ${START_WAIT_MS / 1000} s.`, { hint: 'Run `auth agent run` to see why.' });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** `auth agent stop`: the agent wipes what it holds and exits; returns once its pid is gone. */
export async function runAgentStop(deps: Deps): Promise<number> {
  const res = await adminOrFail(deps, { op: 'stop' });
  const pid = typeof res.pid === 'number' ? res.pid : undefined;
  const until = Date.now() + START_WAIT_MS;
  while (pid !== undefined && alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  if (pid !== undefined && alive(pid)) throw new AuthError('AUTH_FAILED', `The agent (pid ${pid}) wiped its memory but has not exited yet.`);
  deps.log.success(`auth agent stopped${pid === undefined ? '' : ` (pid ${pid})`}; it forgot every token and grant it held.`);
  return ExitCode.ok;
}

interface AgentStatusAnswer {
  pid: number;
  socket: string;
  startedAt: number;
  profiles: Array<{ name: string; expiresAt: number | null; nextRefreshAt: number | null }>;
  grants: number;
}

/** What a running agent says about itself, or undefined when none answers (`auth status` uses it too). */
export async function agentStatus(deps: Deps): Promise<AgentStatusAnswer | undefined> {
  const res = await adminAsk(deps, { op: 'status' });
  return res?.ok ? (res as unknown as AgentStatusAnswer) : undefined;
}

/** `auth agent status [--json]`: exit 0 when an agent answers, else 1. */
export async function runAgentStatus(opts: { json: boolean }, deps: Deps): Promise<number> {
  const st = await agentStatus(deps);
  const now = Date.now();
  if (opts.json) {
    deps.io.stdout.write(`${JSON.stringify(st ? { running: true, pid: st.pid, socket: st.socket, startedAt: new Date(st.startedAt).toISOString(), uptimeSeconds: Math.floor((now - st.startedAt) / 1000), profiles: st.profiles.map((p) => ({ name: p.name, expiresAt: p.expiresAt === null ? null : new Date(p.expiresAt).toISOString(), nextRefreshAt: p.nextRefreshAt === null ? null : new Date(p.nextRefreshAt).toISOString() })), grants: st.grants } : { running: false, socket: socketOf(deps) })}\n`);
    return st ? ExitCode.ok : ExitCode.failure;
  }
  if (!st) {
    deps.log.info(`No auth agent is running (socket ${socketOf(deps)}).`);
    return ExitCode.failure;
  }
  deps.log.info(`auth agent running (pid ${st.pid}), up ${relativeTime(st.startedAt - now).replace(/ ago$/, '')}`);
  deps.log.info(`  Socket:   ${st.socket}`);
  if (!st.profiles.length) deps.log.info('  Profiles: none held yet (loaded on the first request)');
  for (const p of st.profiles) deps.log.info(`  Profile ${p.name}: ${p.nextRefreshAt === null ? 'held, no refresh planned' : `held, next refresh ${relativeTime(p.nextRefreshAt - now)}`}`);
  deps.log.info(`  Grants:   ${st.grants}`);
  return ExitCode.ok;
}

/** `auth agent grant [-p] [--ttl]`: the token once on stdout, its id and expiry on stderr. */
export async function runAgentGrant(opts: { profile?: string; ttl: string }, deps: Deps): Promise<void> {
  const ttlMs = parseDuration(opts.ttl) ?? (opts.ttl ? undefined : DEFAULT_GRANT_TTL_MS);
  if (ttlMs === undefined || !grantTtlValid(ttlMs)) throw usageError('--ttl must be a duration such as 90s, 15m, 8h or 7d, at most 30d.');
  const res = await adminOrFail(deps, { op: 'grant', ttlMs, ...(opts.profile === undefined ? {} : { profile: opts.profile }) });
  deps.io.stdout.write(`${String(res.token)}\n`);
  deps.log.info(`Grant ${String(res.id)} for profile ${String(res.profile)}, valid until ${new Date(Number(res.expiresAt)).toISOString()} (shown once; \`auth agent revoke ${String(res.id)}\` ends it).`);
}

/** `auth agent grants [--json]`: id, profile, expiry — never a token. */
export async function runAgentGrants(opts: { json: boolean }, deps: Deps): Promise<void> {
  const res = await adminOrFail(deps, { op: 'grants' });
  const grants = (res.grants as Array<{ id: string; profile: string; expiresAt: number }>).map((g) => ({ id: g.id, profile: g.profile, expiresAt: new Date(g.expiresAt).toISOString() }));
  if (opts.json) {
    deps.io.stdout.write(`${JSON.stringify({ grants })}\n`);
    return;
  }
  if (!grants.length) deps.log.info('No grants.');
  for (const g of grants) deps.io.stdout.write(`${g.id}  ${g.profile}  ${g.expiresAt}\n`);
}

/** `auth agent revoke <id>`. */
export async function runAgentRevoke(id: string, deps: Deps): Promise<void> {
  await adminOrFail(deps, { op: 'revoke', id });
  deps.log.success(`Grant ${sanitize(id, 40)} revoked.`);
}
