import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, openSync, closeSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { getToken } from '../app/get-token.js';
import { loadConfig, type Config } from '../config/config.js';
import { resolveProfile, type ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import type { Credential } from '../domain/credential.js';
import { DEFAULT_GIT_USERNAME, formatGitCredential, gitTransportAllowed, profileForGitHost } from '../domain/git-credential.js';
import { decideToken, EXPIRY_SKEW_MS, isExpired } from '../domain/token-plan.js';
import { formatToken, TOKEN_FORMATS, type TokenFormat } from '../domain/token-output.js';
import {
  AGENT_MAX_LINE_BYTES,
  grantExpired,
  grantsThrottled,
  localOnly,
  parseAgentRequest,
  recentFailures,
  refreshAt,
  refreshBackoffMs,
  type AgentRequest,
  type GitAsk,
  type TokenAsk,
} from '../domain/agent-rules.js';
import { AuthError } from '../errors.js';
import { requireUnlocked } from '../mfa/guard.js';
import { readChangeStamp } from '../store/change-stamp.js';
import { configIndexFile, mfaSecretFile, mfaStateFile } from '../store/layout.js';
import { agentKeyFile, sameProfileEnv } from './client.js';

/**
 * The resident `auth agent` (docs/design.md "auth agent", docs/architecture.md "The agent"):
 * a socket server that keeps each profile's credential in memory, answers token and git
 * requests with the exact bytes the one-shot CLI would print, and refreshes each held
 * credential ahead of expiry under the same profile lock as one-shot processes. Everything it
 * holds lives in one Agent object; `wipe()` drops it.
 */

/** A request that takes longer than this (a slow refresh) is answered "defer" (local) or an error (grant). */
const REQUEST_TIMEOUT_MS = 30_000;
/** A connection with no complete request line (and none being answered) for this long is closed. */
const READ_TIMEOUT_MS = 10_000;
/** setTimeout's ceiling (about 24.8 days); a later refresh is re-planned when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class AgentSetupError extends Error {}

interface Held {
  name: string;
  cred: Credential | undefined;
  stamp: string;
  /** The unguarded verdict of the MFA guard for this load (a factor without state is found here). */
  mfaChecked: boolean;
  nextRefresh?: number;
  timer?: NodeJS.Timeout;
  failures: number;
}

interface Grant {
  id: string;
  digest: Buffer;
  profile: string;
  expiresAt: number;
}

type Caller = { kind: 'local' } | { kind: 'grant'; grant: Grant };
type Response = Record<string, unknown> & { ok: boolean };

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const sameDigest = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
const myUid = () => (typeof process.getuid === 'function' ? process.getuid() : undefined);

export interface AgentOptions {
  socketPath: string;
  /** Deps for one request or refresh (fresh storage context, never prompts). */
  newDeps(): Deps;
  /** One line per event for the opt-in log; never given a secret. */
  log(event: string): void;
}

/**
 * Makes the socket's directory safe (0700 when created; refused when it is not the user's or
 * others may write to it) and clears a stale socket. Throws AgentSetupError naming the path and
 * the fix; `running` when an agent already answers there.
 */
export async function prepareSocket(socketPath: string): Promise<'free' | 'running'> {
  const dir = dirname(socketPath);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new AgentSetupError(`${dir} (the agent socket's directory) is not a directory. Remove it, or set AUTH_AGENT_SOCK to a path in a directory only you can write.`);
  if (process.platform !== 'win32') {
    if (st.uid !== myUid()) throw new AgentSetupError(`the agent socket's directory ${dir} belongs to another user (uid ${st.uid}). Use a directory you own: set AUTH_AGENT_SOCK, or fix the owner.`);
    if ((st.mode & 0o022) !== 0) throw new AgentSetupError(`the agent socket's directory ${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)}). Run \`chmod 700 ${dir}\`, or set AUTH_AGENT_SOCK to a path in a private directory.`);
  }
  let sock;
  try {
    sock = lstatSync(socketPath);
  } catch {
    return 'free';
  }
  if (process.platform !== 'win32' && sock.uid !== myUid()) throw new AgentSetupError(`${socketPath} belongs to another user (uid ${sock.uid}); not replacing it. Remove it as that user, or set AUTH_AGENT_SOCK to another path.`);
  if (!sock.isSocket()) throw new AgentSetupError(`${socketPath} exists and is not a socket; not replacing it. Remove it, or set AUTH_AGENT_SOCK to another path.`);
  const answering = await new Promise<boolean>((resolve) => {
    const c = createConnection(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (answering) return 'running';
  // A socket left behind by an agent that died (kill -9, a crash): nothing listens on it.
  unlinkSync(socketPath);
  return 'free';
}

export class Agent {
  private readonly held = new Map<string, Held>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly grants = new Map<string, Grant>();
  private failures: number[] = [];
  private readonly connections = new Set<Socket>();
  private server: Server | undefined;
  private localDigest: Buffer | undefined;
  private config: { stamp: string; config: Config } | undefined;
  private readonly startedAt = Date.now();
  private stopped = false;
  private stopResolve!: () => void;
  /** Resolves once the agent has wiped and closed. */
  readonly done = new Promise<void>((r) => (this.stopResolve = r));
  private readonly base: Deps;

  constructor(private readonly opts: AgentOptions) {
    this.base = opts.newDeps();
  }

  async listen(): Promise<void> {
    const { socketPath } = this.opts;
    const server = createServer((sock) => this.accept(sock));
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldMask);
    }
    if (process.platform !== 'win32') chmodSync(socketPath, 0o600);
    this.server = server;
    const key = randomBytes(32).toString('base64url');
    const keyFile = agentKeyFile(socketPath);
    try {
      unlinkSync(keyFile);
    } catch {
      // none yet
    }
    const fd = openSync(keyFile, 'wx', 0o600);
    try {
      writeSync(fd, `${key}\n`);
    } finally {
      closeSync(fd);
    }
    this.localDigest = sha256(key);
    this.opts.log(`started pid=${process.pid} socket=${socketPath}`);
  }

  /** Drops every credential and grant, closes the server, removes the socket and the key file. */
  wipe(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const h of this.held.values()) {
      if (h.timer) clearTimeout(h.timer);
      h.cred = undefined;
    }
    this.held.clear();
    this.grants.clear();
    this.failures = [];
    this.localDigest = undefined;
    for (const c of this.connections) c.destroy();
    this.server?.close();
    for (const f of [this.opts.socketPath, agentKeyFile(this.opts.socketPath)]) {
      try {
        unlinkSync(f);
      } catch {
        // already gone
      }
    }
    this.opts.log(`stopped (${why})`);
    this.stopResolve();
  }

  private accept(sock: Socket): void {
    this.connections.add(sock);
    sock.on('close', () => this.connections.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    let busy = false;
    // A client that connects and sends nothing (or half a line) does not hold a connection open;
    // the timer restarts with every byte either way, and is ignored while an answer is worked on.
    sock.setTimeout(READ_TIMEOUT_MS, () => {
      if (busy) return;
      this.opts.log(`closed: no complete request within ${READ_TIMEOUT_MS / 1000} s`);
      sock.destroy();
    });
    const pump = () => {
      if (busy) return;
      const nl = buf.indexOf(0x0a);
      if (nl === -1) {
        if (buf.length > AGENT_MAX_LINE_BYTES) {
          this.opts.log('refused: request line over 64 KiB');
          sock.destroy();
        }
        return;
      }
      if (nl > AGENT_MAX_LINE_BYTES) {
        this.opts.log('refused: request line over 64 KiB');
        sock.destroy();
        return;
      }
      const line = buf.subarray(0, nl).toString('utf8');
      buf = buf.subarray(nl + 1);
      busy = true;
      void this.answer(line).then((res) => {
        busy = false;
        if (!sock.destroyed) sock.write(`${JSON.stringify(res)}\n`);
        if (res.stopping) this.wipe('stop requested');
        else pump();
      });
    };
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      pump();
    });
  }

  private async answer(line: string): Promise<Response> {
    const parsed = parseAgentRequest(line);
    if (!parsed.ok) return { ok: false, error: parsed.error, exit: 2 };
    const req = parsed.request;
    const caller = this.authenticate(req);
    if ('refused' in caller) {
      this.opts.log(`refused op=${req.op}: ${caller.refused}`);
      return { ok: false, error: caller.refused, exit: 4 };
    }
    if (caller.kind === 'grant' && localOnly(req.op)) return { ok: false, error: `a grant may ask for tokens only, not for ${req.op}`, exit: 4 };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Response>((resolve) => {
      timer = setTimeout(() => resolve(caller.kind === 'local' ? { ok: false, defer: true } : { ok: false, error: 'the agent did not answer in time', exit: 1 }), REQUEST_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.handle(req, caller), timeout]);
    } catch (e) {
      this.opts.log(`error op=${req.op}: ${e instanceof AuthError ? e.code : 'unexpected'}`);
      // A local token or git request defers (the client's own path then says what is wrong); an
      // admin request or a grant caller gets the message.
      if (caller.kind === 'local' && !localOnly(req.op)) return { ok: false, defer: true };
      return { ok: false, error: e instanceof AuthError ? e.message.replace(/\.$/, '') : 'the agent failed', exit: e instanceof AuthError ? e.exitCode : 1 };
    } finally {
      clearTimeout(timer);
    }
  }

  private authenticate(req: AgentRequest): Caller | { refused: string } {
    const auth = req.auth;
    if (!auth) return { refused: 'no credentials presented (a local key or a grant token)' };
    if ('local' in auth) {
      if (this.localDigest && sameDigest(sha256(auth.local), this.localDigest)) return { kind: 'local' };
      return { refused: 'wrong local key' };
    }
    const now = Date.now();
    const throttle = grantsThrottled(this.failures, now);
    if (throttle.throttled) return { refused: `too many failed grant presentations in the last minute; grants are refused until ${new Date(throttle.retryAt!).toISOString()}` };
    const digest = sha256(auth.grant);
    let match: Grant | undefined;
    for (const g of this.grants.values()) if (sameDigest(digest, g.digest)) match = g;
    if (match && !grantExpired(match, now)) return { kind: 'grant', grant: match };
    this.failures = [...recentFailures(this.failures, now), now];
    return { refused: match ? 'the grant has expired' : 'unknown or revoked grant token' };
  }

  private async handle(req: AgentRequest, caller: Caller): Promise<Response> {
    switch (req.op) {
      case 'ping':
        return { ok: true, pid: process.pid };
      case 'token':
        return this.serveToken(req, caller);
      case 'git':
        return this.serveGit(req, caller);
      case 'status':
        return this.status();
      case 'stop':
        return { ok: true, pid: process.pid, stopping: true };
      case 'grant':
        return this.grant(req.profile, req.ttlMs);
      case 'grants':
        return { ok: true, grants: this.listGrants() };
      case 'revoke': {
        const g = this.grants.get(req.id);
        if (!g) return { ok: false, error: `no grant with id ${req.id.slice(0, 40)}`, exit: 1 };
        this.grants.delete(req.id);
        this.opts.log(`revoked grant id=${g.id}`);
        return { ok: true, id: g.id };
      }
    }
  }

  private status(): Response {
    const profiles = [...this.held.values()]
      .filter((h) => h.cred)
      .map((h) => ({ name: h.name, expiresAt: h.cred?.expiresAt ?? null, nextRefreshAt: h.nextRefresh ?? null }));
    return { ok: true, pid: process.pid, socket: this.opts.socketPath, startedAt: this.startedAt, profiles, grants: this.listGrants().length };
  }

  private listGrants() {
    const now = Date.now();
    for (const [id, g] of this.grants) if (grantExpired(g, now)) this.grants.delete(id);
    return [...this.grants.values()].map((g) => ({ id: g.id, profile: g.profile, expiresAt: g.expiresAt }));
  }

  private grant(profileFlag: string | undefined, ttlMs: number): Response {
    const deps = this.opts.newDeps();
    const { profile } = this.profileFor(deps, profileFlag === undefined ? {} : { profile: profileFlag });
    const token = randomBytes(32).toString('base64url');
    const id = randomBytes(6).toString('hex');
    const g: Grant = { id, digest: sha256(token), profile: profile.name, expiresAt: Date.now() + ttlMs };
    this.grants.set(id, g);
    this.opts.log(`granted id=${id} profile=${g.profile} expires=${new Date(g.expiresAt).toISOString()}`);
    return { ok: true, token, id, profile: g.profile, expiresAt: g.expiresAt };
  }

  /** config.yaml, re-read when its size or mtime changes. */
  private loadedConfig(deps: Deps): Config {
    let stamp = 'absent';
    try {
      const st = statSync(deps.paths.configFile);
      stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch {
      // no config file: every profile is the default one
    }
    if (this.config?.stamp !== stamp) this.config = { stamp, config: loadConfig(deps.paths.configFile, { indexFile: configIndexFile(deps.paths) }) };
    return this.config.config;
  }

  private profileFor(deps: Deps, flags: { profile?: string }, envProfile?: string): { config: Config; profile: ResolvedProfile } {
    const config = this.loadedConfig(deps);
    const env = { ...deps.env };
    if (envProfile !== undefined) env.AUTH_PROFILE = envProfile;
    else delete env.AUTH_PROFILE;
    return { config, profile: resolveProfile(config, env, flags) };
  }

  private async serveToken(req: TokenAsk & { env?: Record<string, unknown> }, caller: Caller): Promise<Response> {
    const deps = this.opts.newDeps();
    const format = req.format as TokenFormat;
    if (!TOKEN_FORMATS.includes(format)) return this.refuse(caller, `--format must be one of ${TOKEN_FORMATS.join(', ')}`, 2);
    let name: string;
    if (caller.kind === 'grant') {
      const asked = req.profile ?? req.envProfile;
      if (asked !== undefined && asked !== caller.grant.profile) return this.refuse(caller, `this agent grant covers profile ${caller.grant.profile} only, not ${asked}`, 4);
      name = caller.grant.profile;
    } else {
      if (!sameProfileEnv(req.env ?? {}, deps.env)) return { ok: false, defer: true };
      name = this.profileFor(deps, req.profile === undefined ? {} : { profile: req.profile }, req.envProfile).profile.name;
    }
    const cred = await this.credentialFor(name, deps, { minTtlMs: req.minTtl * 1000, idToken: req.idToken });
    this.opts.log(`served op=token profile=${name} caller=${caller.kind === 'local' ? 'local' : `grant:${caller.grant.id}`}`);
    return { ok: true, out: formatToken(cred, format, req.idToken, req.execInfo) };
  }

  private async serveGit(req: GitAsk, caller: Caller): Promise<Response> {
    const deps = this.opts.newDeps();
    const config = this.loadedConfig(deps);
    const name = profileForGitHost(config.profiles, req.host);
    if (name === undefined || (caller.kind === 'grant' && name !== caller.grant.profile)) return { ok: true, out: '' };
    if (!gitTransportAllowed(req.protocol, req.host)) return caller.kind === 'local' ? { ok: false, defer: true } : { ok: true, out: '' };
    const cred = await this.credentialFor(name, deps, { minTtlMs: EXPIRY_SKEW_MS * 5, idToken: false });
    this.opts.log(`served op=git profile=${name} caller=${caller.kind === 'local' ? 'local' : `grant:${caller.grant.id}`}`);
    return { ok: true, out: formatGitCredential(config.profiles[name]?.git?.username ?? DEFAULT_GIT_USERNAME, cred.accessToken, cred.expiresAt) };
  }

  private refuse(caller: Caller, error: string, exit: number): Response {
    return caller.kind === 'local' ? { ok: false, defer: true } : { ok: false, error, exit };
  }

  /**
   * The credential to serve for `name` by the one token rule, from memory when it is current
   * (the change stamp is unchanged), else through the vault; refreshed (once per profile at a
   * time) when the rule says so. Throws AuthError when it cannot be served, as the CLI would.
   */
  private async credentialFor(name: string, deps: Deps, want: { minTtlMs: number; idToken: boolean }): Promise<Credential> {
    const { profile } = this.profileFor(deps, { profile: name });
    // The MFA precondition, on every request (never cached): the unlock window of docs/design.md §2.
    const held = await this.current(profile, deps);
    await this.mfaGate(profile, held, deps);
    let refreshed = false;
    for (;;) {
      const cred = this.held.get(name)?.cred;
      if (!cred) throw new AuthError('AUTH_NOT_LOGGED_IN', `Not logged in (profile ${name}).`);
      const canRefresh = cred.kind === 'client_credentials' || Boolean(cred.refreshToken);
      const now = Date.now();
      const decision = decideToken(cred, { ...want, noRefresh: false }, now, canRefresh);
      if (decision.kind === 'serve') return cred;
      // As flows/refresh.ts: a token just refreshed is as fresh as the provider makes them,
      // even when its whole lifetime is shorter than the caller's min-TTL.
      if (decision.kind === 'refresh' && refreshed && !isExpired(cred, now, want.idToken)) return cred;
      if (decision.kind !== 'refresh' || refreshed) throw new AuthError('AUTH_NOT_LOGGED_IN', decision.kind === 'no-id-token' ? `Profile ${name} holds no ID token.` : `A token of profile ${name} has expired.`);
      await this.refreshOnce(profile, want);
      refreshed = true;
    }
  }

  private async mfaGate(profile: ResolvedProfile, held: Held, deps: Deps): Promise<void> {
    // requireUnlocked never prompts here (requestDeps has no terminal): it returns when the
    // profile is unguarded or its window is open, and throws AUTH_MFA_LOCKED otherwise. For an
    // unguarded profile it looks for a factor without state (the keychain), which needs no
    // repeating until the stored credential changes; a state file is read on every request.
    const guarded = existsSync(mfaStateFile(deps.paths, profile.name)) || existsSync(mfaSecretFile(deps.paths, profile.name)) || profile.mfa.required;
    if (!guarded && held.mfaChecked) return;
    await requireUnlocked(profile, deps);
    if (!guarded) held.mfaChecked = true;
  }

  /** The held entry for a profile, reloaded through the vault when another process changed it. */
  private async current(profile: ResolvedProfile, deps: Deps): Promise<Held> {
    const stamp = readChangeStamp(deps.paths, profile.name);
    let held = this.held.get(profile.name);
    if (held && held.stamp === stamp && held.cred) return held;
    const store = await deps.openStore(profile.storage, profile.name);
    const cred = await store.get(profile.name);
    if (!held) {
      held = { name: profile.name, cred, stamp, mfaChecked: false, failures: 0 };
      this.held.set(profile.name, held);
    } else {
      held.cred = cred;
      held.stamp = stamp;
      held.mfaChecked = false;
      held.failures = 0;
    }
    this.opts.log(`loaded profile=${profile.name} ${cred ? 'logged-in' : 'not-logged-in'}`);
    this.schedule(held);
    return held;
  }

  /** One refresh per profile at a time: concurrent requests share it (single-flight). */
  private refreshOnce(profile: ResolvedProfile, want: { minTtlMs: number; idToken: boolean }, background = false): Promise<void> {
    const running = this.inflight.get(profile.name);
    if (running) return running;
    const p = this.refresh(profile, want, background).finally(() => this.inflight.delete(profile.name));
    this.inflight.set(profile.name, p);
    return p;
  }

  /**
   * The one refresh path (app/get-token.ts → flows/refresh.ts) under the profile lock, so an
   * agent and one-shot processes never refresh the same token twice.
   */
  private async refresh(profile: ResolvedProfile, want: { minTtlMs: number; idToken: boolean }, background: boolean): Promise<void> {
    // No serveValidOnOutage: a local caller then defers, and the one-shot CLI gives its own warning.
    const deps = this.opts.newDeps();
    const held = this.held.get(profile.name);
    try {
      const { credential, refreshed } = await getToken({ profile: profile.name, guarded: false, minTtlMs: want.minTtlMs, idToken: want.idToken }, deps);
      const h = this.held.get(profile.name) ?? { name: profile.name, cred: undefined, stamp: '', mfaChecked: false, failures: 0 };
      h.cred = credential;
      h.stamp = readChangeStamp(deps.paths, profile.name);
      h.failures = 0;
      this.held.set(profile.name, h);
      this.opts.log(`${refreshed ? 'refreshed' : 'checked'} profile=${profile.name}${background ? ' (background)' : ''}`);
      this.schedule(h);
    } catch (e) {
      const ended = e instanceof AuthError && e.exitCode === 4;
      this.opts.log(`refresh failed profile=${profile.name} ${e instanceof AuthError ? e.code : 'unexpected'}${ended ? ' (dropped from memory)' : ''}`);
      if (ended) {
        if (held) this.forget(held);
        if (!background) throw e;
        return;
      }
      if (held) {
        held.failures += 1;
        const wait = refreshBackoffMs(held.failures);
        this.opts.log(`backing off profile=${profile.name}: next attempt in ${Math.round(wait / 1000)} s`);
        this.schedule(held, Date.now() + wait);
      }
      if (!background) throw e;
    }
  }

  private forget(held: Held): void {
    if (held.timer) clearTimeout(held.timer);
    held.cred = undefined;
    held.nextRefresh = undefined;
    held.timer = undefined;
    this.held.delete(held.name);
  }

  /** Plans the next background refresh; no timer at all when nothing is due (an idle agent uses no CPU). */
  private schedule(held: Held, at?: number): void {
    if (held.timer) clearTimeout(held.timer);
    held.timer = undefined;
    held.nextRefresh = undefined;
    if (this.stopped || !held.cred) return;
    const cred = held.cred;
    const when = at ?? refreshAt(cred, cred.kind === 'client_credentials' || Boolean(cred.refreshToken), Math.random());
    if (when === undefined) return;
    held.nextRefresh = when;
    held.timer = setTimeout(() => void this.backgroundRefresh(held.name), Math.min(Math.max(0, when - Date.now()), MAX_TIMER_MS));
  }

  private async backgroundRefresh(name: string): Promise<void> {
    const held = this.held.get(name);
    if (!held?.cred || this.stopped) return;
    held.timer = undefined;
    if (held.nextRefresh !== undefined && held.nextRefresh > Date.now() + 1000) return this.schedule(held, held.nextRefresh);
    const deps = this.opts.newDeps();
    try {
      const { profile } = this.profileFor(deps, { profile: name });
      // Another process may have stored a newer credential (or logged out) since: reload first.
      if (readChangeStamp(deps.paths, name) !== held.stamp) {
        const fresh = await this.current(profile, deps);
        if (!fresh.cred) return this.forget(fresh);
        if (fresh.nextRefresh !== undefined && fresh.nextRefresh > Date.now()) return;
      }
      const cred = held.cred;
      if (!cred) return;
      const minTtlMs = Math.max(EXPIRY_SKEW_MS, (cred.expiresAt ?? Date.now()) - Date.now() + 1000);
      await this.refreshOnce(profile, { minTtlMs, idToken: false }, true);
    } catch {
      held.failures += 1;
      this.schedule(held, Date.now() + refreshBackoffMs(held.failures));
    }
  }
}
