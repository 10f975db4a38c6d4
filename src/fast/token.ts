import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import type { Config } from '../config/config.js';
import { resolvePaths, type Paths } from '../config/paths.js';
import { resolveProfile, type ResolvedProfile } from '../config/resolve.js';
import { parseCredential, type Credential } from '../domain/credential.js';
import { DEFAULT_GIT_USERNAME, formatGitCredential, gitTransportAllowed, parseGitCredentialRequest, profileForGitHost } from '../domain/git-credential.js';
import { parseState } from '../domain/mfa-state.js';
import { chooseCopy, decideToken, DEFAULT_MIN_TTL_S, mfaWindowOpen } from '../domain/token-plan.js';
import { withKeychainTimeout } from '../store/keychain-timeout.js';
import { busKey, checkSecretService, type ServiceCheck } from '../store/secret-service-check.js';
import { configFromIndex } from '../config/config-index.js';
import { configIndexFile, credentialAccount, credentialFile, KEYCHAIN_CHUNK_PREFIX, KEYCHAIN_SERVICE, keychainTimeoutMs, mfaAccount, mfaSecretFile, mfaStateFile, testClockMs } from '../store/layout.js';
import { formatToken, TOKEN_FORMATS, TTY_TOKEN_WARNING, type TokenFormat } from '../domain/token-output.js';
import { agentOutput, agentRequestEnv, agentTokenRequest, mayAskAgent, type AgentVerdict } from '../agent/client.js';

/**
 * The warm path of `auth token` (docs/design.md §7): a valid stored token printed
 * without loading commander, the YAML parser or the protocol library. It runs the
 * read-only part of the one token rule (src/domain/token-plan.ts), reading where
 * src/store/layout.ts says: known flags, config unchanged since the full CLI indexed
 * it, MFA off or its unlock window open, one readable copy of the credential, a
 * `serve` decision. Anything else returns undefined, so the full CLI
 * (dist/main.cjs) handles it with its own messages and exit codes. It never prints
 * before it is sure, so a fallback never follows partial output.
 */
interface FastTokenArgs {
  profile?: string;
  minTtl: number;
  format: TokenFormat;
  idToken: boolean;
  /** --no-refresh: the agent is not asked (it may have refreshed; the one-shot rule serves the stored token). */
  noRefresh?: boolean;
}

/** Output by file descriptor: creating process.stdout alone costs ~5% of startup (docs/design.md §7). */
export interface FastIO {
  stdoutIsTTY(): boolean;
  /** Writes all of `text` to fd 1 or 2. */
  write(fd: 1 | 2, text: string): void;
}

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * The subset of commander's parsing `auth token` needs: `token` once, the
 * global -p/--profile and --no-color anywhere, token's own options after it.
 * Anything else (help, --debug, unknown or malformed options) → undefined.
 */
function parseFastTokenArgs(argv: string[]): FastTokenArgs | undefined {
  const args: FastTokenArgs = { minTtl: DEFAULT_MIN_TTL_S, format: 'raw', idToken: false };
  let seenCommand = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      if (seenCommand || arg !== 'token') return undefined;
      seenCommand = true;
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg.startsWith('-p') && arg.length > 2 ? '-p' : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : name === '-p' && arg !== '-p' ? arg.slice(2) : undefined;
    const value = (): string | undefined => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-')) return undefined;
      i++;
      return next;
    };
    if (name === '-p' || name === '--profile') {
      const v = value();
      if (!v) return undefined;
      args.profile = v;
      continue;
    }
    if (name === '--no-color' && inline === undefined) continue;
    if (!seenCommand) return undefined;
    if (name === '--min-ttl') {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) return undefined;
      args.minTtl = Number(v);
    } else if (name === '--format') {
      const v = value();
      if (!TOKEN_FORMATS.includes(v as TokenFormat)) return undefined;
      args.format = v as TokenFormat;
    } else if (name === '--id-token' && inline === undefined) {
      args.idToken = true;
    } else {
      // --no-refresh only matters when a refresh is due, which the fast path never serves.
      if (name === '--no-refresh' && inline === undefined) {
        args.noRefresh = true;
        continue;
      }
      return undefined;
    }
  }
  return seenCommand ? args : undefined;
}

const isWindows = process.platform === 'win32';
const NONBLOCK = isWindows ? 0 : constants.O_NONBLOCK;
const myUid = () => (typeof process.getuid === 'function' ? process.getuid() : undefined);

/**
 * File contents without following a symlink or blocking on a FIFO; null when
 * absent. With `private`, only what store/fs-safe.ts would read without a word:
 * a regular file owned by this user in a directory owned by this user, neither
 * accessible to others (docs/security.md R75) — anything else throws, and the slow
 * path refuses, warns or tightens it as it does.
 */
/**
 * `private_`: the credential file — user-only dir and file. `trusted`: a file that steers
 * where tokens go (config, its index) — owned by the user and writable by nobody else
 * (store/fs-safe.ts readTrustedFile); anything else throws, and the full CLI takes over.
 */
function readNoFollow(file: string, private_ = false, trusted = false): string | null {
  if ((private_ || trusted) && !isWindows) {
    let dir;
    try {
      dir = lstatSync(dirname(file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    if (!dir.isDirectory() || dir.uid !== myUid()) throw new Error('not ours');
    if (private_ && (dir.mode & 0o077) !== 0) throw new Error('not private');
    if (trusted && (dir.mode & 0o022) !== 0 && (dir.mode & 0o1000) === 0) throw new Error('not trusted');
  }
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | NOFOLLOW | NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (private_ && !isWindows && (st.uid !== myUid() || (st.mode & 0o077) !== 0)) throw new Error('not private');
    if (trusted && !isWindows && (st.uid !== myUid() || (st.mode & 0o022) !== 0)) throw new Error('not trusted');
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * The MFA precondition, read-only: true when the profile is unguarded or its unlock window
 * is open (exactly when mfa/guard.ts requireUnlocked returns without asking). A guarded
 * profile outside its window, a damaged state, `mfa.required` without state, or a factor
 * left without state → false: the guard decides (it may prompt, or exit 4).
 */
function mfaPermits(profile: ResolvedProfile, paths: Paths, now: number): boolean {
  const text = readNoFollow(mfaStateFile(paths, profile.name), false, true);
  if (text !== null) {
    const state = parseState(text);
    return state !== undefined && mfaWindowOpen(state, now);
  }
  return !profile.mfa.required && !exists(mfaSecretFile(paths, profile.name));
}

function loadConfigCheaply(paths: Paths): Config | undefined {
  const text = readNoFollow(paths.configFile, false, true);
  if (text === null) return { profiles: {} };
  const index = readNoFollow(configIndexFile(paths), false, true);
  return index === null ? undefined : configFromIndex(index, paths.configFile, text);
}

type Keyring = typeof import('@napi-rs/keyring');


/**
 * The stored credential text, or undefined when the full CLI must decide:
 * not stored where the profile's storage says (store/select.ts then looks in
 * the other stores and moves it), encrypted, a keychain that fails or is
 * slow, a credential stored in parts (store/keychain.ts chunks), a fallback
 * file beside a keychain entry (the newer copy, which must move: chooseCopy),
 * or an MFA factor in the keychain without state (docs/security.md R98: the guard decides).
 */
async function readCredentialText(profile: ResolvedProfile, paths: Paths, env: NodeJS.ProcessEnv, guarded: boolean, handoff: FastHandoff): Promise<string | undefined> {
  const fileStore = credentialFile(paths, profile.name);
  if (profile.storage === 'file') return readNoFollow(fileStore, true) ?? undefined;
  if (profile.storage === 'encrypted-file') return undefined;
  // On Linux the binding blocks for good (even its constructor, on the main thread) against a bus or
  // keyring daemon that never answers: ask over a closable socket first (store/secret-service-check.ts).
  // The check's socket I/O overlaps loading the native binding (~3 ms), which does not touch D-Bus.
  const check = process.platform === 'linux' ? checkSecretService(env, keychainTimeoutMs(env)) : undefined;
  if (check) handoff.secretService = { bus: busKey(env), check };
  let keyring: Keyring | undefined;
  try {
    // Loaded only here: the native binding costs ~4% of startup (docs/design.md §7).
    keyring = require('@napi-rs/keyring') as Keyring;
  } catch {
    keyring = undefined;
  }
  if (check && !(await check).ok) {
    return profile.storage === 'keychain' ? undefined : readNoFollow(fileStore, true) ?? undefined;
  }
  if (!keyring) return undefined;
  const kr = keyring;
  // One Secret Service search for the credential and the MFA secret (each lookup is a round trip).
  // Bounded like every keychain call (store/keychain-timeout.ts); any failure → the full CLI decides.
  const entries = await withKeychainTimeout((signal) => kr.findCredentialsAsync(KEYCHAIN_SERVICE, null, signal), keychainTimeoutMs(env)).catch(() => undefined);
  if (entries === undefined) return undefined;
  const valueOf = (account: string) => entries.find((e) => e.account === account)?.password ?? null;
  if (!guarded && valueOf(mfaAccount(profile.name)) !== null) return undefined;
  const entry = valueOf(credentialAccount(profile.name)) ?? undefined;
  if (entry?.startsWith(KEYCHAIN_CHUNK_PREFIX)) return undefined;
  // With no entry, the credential may sit in the file fallback from a time without a keychain;
  // beside an entry, a fallback file is the newer copy. Either way it must move into the
  // keychain, which is the full CLI's job (store/select.ts).
  const copy = chooseCopy(entry, exists(fileStore) ? '' : undefined);
  return copy.from === 'keychain' ? copy.value : undefined;
}

/**
 * What the fast path learned that the full CLI would otherwise ask again: the Secret Service
 * check (up to 2 s against a silent bus). bin.ts passes it to main(), which seeds the
 * invocation's StorageContext with it — an explicit value, not process-global state.
 */
export interface FastHandoff {
  secretService?: { bus: string; check: Promise<ServiceCheck> };
  /** What bin.ts already read from stdin (`auth git-credential get`); `stdinComplete`: that was all of it. */
  stdinPrefix?: string;
  stdinComplete?: boolean;
  /** The agent was asked already and did not answer (or deferred): the full CLI does not ask again. */
  agentAsked?: boolean;
}

/**
 * Asks a running agent first (docs/architecture.md "How `auth token` flows"); undefined: no agent,
 * or it deferred, and the caller carries on exactly as without one.
 */
async function fromAgent(env: NodeJS.ProcessEnv, request: Record<string, unknown>, handoff: FastHandoff): Promise<AgentVerdict> {
  if (!mayAskAgent(env, false)) return undefined;
  handoff.agentAsked = true;
  return agentOutput(env, !isWindows && env.HOME ? env.HOME : homedir(), request);
}

/** The agent's verdict written out: its output (0), or its error line and exit code (a grant client). */
function writeVerdict(verdict: NonNullable<AgentVerdict>, io: FastIO, ttyWarning: boolean): number {
  try {
    if (verdict.kind === 'error') {
      io.write(2, `error: ${verdict.error}\n`);
      return verdict.exit;
    }
    if (ttyWarning && io.stdoutIsTTY()) io.write(2, `${TTY_TOKEN_WARNING}\n`);
    io.write(1, verdict.out);
    return 0;
  } catch {
    return 1;
  }
}

/** Where the warm path reads: paths and the indexed config, or undefined (the full CLI decides). */
function warmConfig(env: NodeJS.ProcessEnv): { paths: Paths; config: Config } | undefined {
  // docs/security.md R03 is refused by main.ts; --debug output and the test clock live there too.
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0' || env.AUTH_DEBUG === '1') return undefined;
  // os.homedir() is $HOME on POSIX; reading it directly spares loading the os module.
  const paths = resolvePaths(env, process.platform, !isWindows && env.HOME ? env.HOME : homedir());
  const config = loadConfigCheaply(paths);
  return config ? { paths, config } : undefined;
}

/**
 * The read-only part of the token rule for one profile: the stored credential when the plan
 * says `serve`, else undefined. Only `serve` is answered here; a refresh (even with
 * --no-refresh, whose messages are the full CLI's), an expired token or a missing ID token
 * goes to the full CLI.
 */
async function servedCredential(where: { paths: Paths; config: Config }, profileFlag: string | undefined, env: NodeJS.ProcessEnv, handoff: FastHandoff, plan: { minTtl: number; idToken: boolean }): Promise<{ cred: Credential; profile: ResolvedProfile } | undefined> {
  const { paths, config } = where;
  const now = testClockMs(env) ?? Date.now();
  const profile = resolveProfile(config, env, profileFlag === undefined ? {} : { profile: profileFlag });
  if (profile.clientSecretEnv && !env[profile.clientSecretEnv]) return undefined;
  if (!mfaPermits(profile, paths, now)) return undefined;
  const guarded = exists(mfaStateFile(paths, profile.name));
  const text = await readCredentialText(profile, paths, env, guarded, handoff);
  if (text === undefined) return undefined;
  const cred = parseCredential(text);
  if (!cred) return undefined;
  const decision = decideToken(cred, { minTtlMs: plan.minTtl * 1000, idToken: plan.idToken, noRefresh: false }, now, true);
  return decision.kind === 'serve' ? { cred, profile } : undefined;
}

/** Prints the token and returns 0, or returns undefined (nothing printed) for the full CLI to handle. */
export async function fastToken(argv: string[], env: NodeJS.ProcessEnv, io: FastIO, handoff: FastHandoff = {}): Promise<number | undefined> {
  const args = parseFastTokenArgs(argv);
  if (!args) return undefined;
  let out: string;
  try {
    const verdict = args.noRefresh ? undefined : await fromAgent(env, agentTokenRequest(env, args), handoff);
    if (verdict) return writeVerdict(verdict, io, true);
    const where = warmConfig(env);
    if (!where) return undefined;
    const served = await servedCredential(where, args.profile, env, handoff, args);
    if (!served) return undefined;
    out = formatToken(served.cred, args.format, args.idToken, env.KUBERNETES_EXEC_INFO);
  } catch {
    return undefined;
  }
  try {
    if (io.stdoutIsTTY()) io.write(2, `${TTY_TOKEN_WARNING}\n`);
    io.write(1, out);
  } catch {
    // stdout closed under us (EPIPE): report failure, never fall back after output began.
    return 1;
  }
  return 0;
}

/**
 * `auth git-credential get` on the warm path (docs/design.md §7): git's request (already read
 * from stdin by bin.ts), the profile whose git.hosts lists the host, the same read-only token
 * rule as `auth token`. A host no profile serves is answered here too (nothing, exit 0);
 * anything else — a refresh, a refused transport, not logged in — goes to the full CLI.
 */
export async function fastGitCredential(request: string, env: NodeJS.ProcessEnv, io: FastIO, handoff: FastHandoff = {}): Promise<number | undefined> {
  let out: string;
  try {
    const req = parseGitCredentialRequest(request);
    if (!req.host) return undefined;
    const verdict = await fromAgent(env, { op: 'git', host: req.host, ...(req.protocol === undefined ? {} : { protocol: req.protocol }), env: agentRequestEnv(env) }, handoff);
    if (verdict) return writeVerdict(verdict, io, false);
    const where = warmConfig(env);
    if (!where) return undefined;
    const name = profileForGitHost(where.config.profiles, req.host);
    if (name === undefined) return 0;
    if (!gitTransportAllowed(req.protocol, req.host)) return undefined;
    const served = await servedCredential(where, name, env, handoff, { minTtl: DEFAULT_MIN_TTL_S, idToken: false });
    if (!served) return undefined;
    out = formatGitCredential(where.config.profiles[name]?.git?.username ?? DEFAULT_GIT_USERNAME, served.cred.accessToken, served.cred.expiresAt);
  } catch {
    return undefined;
  }
  try {
    io.write(1, out);
  } catch {
    return 1;
  }
  return 0;
}
