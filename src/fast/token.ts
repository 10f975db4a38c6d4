import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Config } from '../config/config.js';
import { resolvePaths, type Paths } from '../config/paths.js';
import { resolveProfile, type ResolvedProfile } from '../config/resolve.js';
import { parseCredential } from '../store/credential.js';
import { needsRefresh } from '../store/freshness.js';
import { checkSecretService } from '../store/secret-service-check.js';
import { configFromIndex, configIndexPath } from './config-index.js';
import { formatToken, TOKEN_FORMATS, TTY_TOKEN_WARNING, type TokenFormat } from './token-output.js';

/**
 * The warm path of `auth token` (docs/design.md §7): a valid stored token printed
 * without loading commander, the YAML parser or the protocol library. It
 * answers only the plain case — known flags, config unchanged since the slow
 * path indexed it, no MFA, no refresh due (of the ID token too, with
 * --id-token), a readable credential — and returns
 * undefined for everything else, so the full CLI (dist/main.cjs) handles it
 * with its own messages and exit codes. It never prints before it is sure, so
 * a fallback never follows partial output.
 */
export interface FastTokenArgs {
  profile?: string;
  minTtl: number;
  format: TokenFormat;
  idToken: boolean;
}

/** Output by file descriptor: creating process.stdout alone costs ~5% of startup (docs/design.md §7). */
export interface FastIO {
  stdoutIsTTY(): boolean;
  /** Writes all of `text` to fd 1 or 2. */
  write(fd: 1 | 2, text: string): void;
}

const KEYCHAIN_SERVICE = 'authcli'; // = store/keychain.ts KEYCHAIN_SERVICE (that module loads the native binding)
const KEYCHAIN_CHUNKED = 'authcli-chunked:'; // = store/keychain.ts CHUNK_HEADER_PREFIX: a value stored in parts
const KEYCHAIN_TIMEOUT_MS = 2000;
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * The subset of commander's parsing `auth token` needs: `token` once, the
 * global -p/--profile and --no-color anywhere, token's own options after it.
 * Anything else (help, --debug, unknown or malformed options) → undefined.
 */
export function parseFastTokenArgs(argv: string[]): FastTokenArgs | undefined {
  const args: FastTokenArgs = { minTtl: 300, format: 'raw', idToken: false };
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
      if (name === '--no-refresh' && inline === undefined) continue;
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

function loadConfigCheaply(paths: Paths): Config | undefined {
  const text = readNoFollow(paths.configFile, false, true);
  if (text === null) return { profiles: {} };
  const index = readNoFollow(configIndexPath(paths), false, true);
  return index === null ? undefined : configFromIndex(index, paths.configFile, text);
}

type Keyring = typeof import('@napi-rs/keyring');

/** Runs keychain calls bounded like store/keychain.ts (2 s); any failure → undefined. */
async function bounded<T>(what: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      what(controller.signal),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => {
          controller.abort();
          resolve(undefined);
        }, KEYCHAIN_TIMEOUT_MS);
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The stored credential text, or undefined when the slow path must decide:
 * not stored where the profile's storage says (store/select.ts then looks in
 * the other stores and moves it), encrypted, a keychain that fails or is
 * slow, a credential stored in parts (store/keychain.ts chunks), or an MFA
 * secret in the keychain (docs/security.md R98: the guard decides).
 */
async function readCredentialText(profile: ResolvedProfile, paths: Paths, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const fileStore = join(paths.credentialsDir, `${profile.name}.json`);
  if (profile.storage === 'file') return readNoFollow(fileStore, true) ?? undefined;
  if (profile.storage === 'encrypted-file') return undefined;
  // On Linux the binding blocks for good (even its constructor, on the main thread) against a bus or
  // keyring daemon that never answers: ask over a closable socket first (store/secret-service-check.ts).
  // The check's socket I/O overlaps loading the native binding (~3 ms), which does not touch D-Bus.
  const check = process.platform === 'linux' ? checkSecretService(env) : undefined;
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
  const entries = await bounded((signal) => kr.findCredentialsAsync(KEYCHAIN_SERVICE, null, signal));
  if (entries === undefined) return undefined;
  const valueOf = (account: string) => entries.find((e) => e.account === account)?.password ?? null;
  const cred = valueOf(profile.name);
  if (valueOf(`mfa:${profile.name}`) !== null) return undefined;
  if (cred !== null) return cred.startsWith(KEYCHAIN_CHUNKED) ? undefined : cred;
  // The keychain answered and holds no credential: it may sit in the file fallback from a time
  // without a keychain, which the full CLI moves into the keychain (store/select.ts).
  return undefined;
}

/** Prints the token and returns 0, or returns undefined (nothing printed) for the full CLI to handle. */
export async function fastToken(argv: string[], env: NodeJS.ProcessEnv, io: FastIO): Promise<number | undefined> {
  const args = parseFastTokenArgs(argv);
  if (!args) return undefined;
  // docs/security.md R03 is refused by main.ts; --debug output and the test clock live there too.
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0' || env.AUTH_DEBUG === '1' || env.AUTH_TEST_NOW_MS !== undefined) return undefined;
  let out: string;
  try {
    // os.homedir() is $HOME on POSIX; reading it directly spares loading the os module.
    const paths = resolvePaths(env, process.platform, !isWindows && env.HOME ? env.HOME : homedir());
    const config = loadConfigCheaply(paths);
    if (!config) return undefined;
    const profile = resolveProfile(config, env, args.profile === undefined ? {} : { profile: args.profile });
    if (profile.mfa.required) return undefined;
    if (profile.clientSecretEnv && !env[profile.clientSecretEnv]) return undefined;
    // MFA on (state file = mfa/state.ts mfaStatePath) or a secret left without state (secret-store.ts) → the guard decides.
    if (exists(join(paths.stateDir, 'mfa', `${profile.name}.json`)) || exists(join(paths.stateDir, 'secrets', 'mfa', profile.name))) return undefined;
    const text = await readCredentialText(profile, paths, env);
    if (text === undefined) return undefined;
    const cred = parseCredential(text);
    // With --id-token the ID token's own `exp` counts too: a due or expired one is the full CLI's to refresh or refuse.
    if (!cred || needsRefresh(cred, args.minTtl * 1000, Date.now(), args.idToken)) return undefined;
    if (args.idToken && !cred.idToken) return undefined;
    out = formatToken(cred, args.format, args.idToken);
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
