import { closeSync, constants, lstatSync, openSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { resolvePaths, type Paths } from '../config/paths.js';
import { resolveProfile, type ResolvedProfile } from '../config/resolve.js';
import { parseCredential } from '../store/credential.js';
import { needsRefresh } from '../store/freshness.js';
import { configFromIndex, configIndexPath } from './config-index.js';
import { formatToken, TOKEN_FORMATS, TTY_TOKEN_WARNING, type TokenFormat } from './token-output.js';

/**
 * The warm path of `auth token` (DESIGN §7): a valid stored token printed
 * without loading commander, the YAML parser or the protocol library. It
 * answers only the plain case — known flags, config unchanged since the slow
 * path indexed it, no MFA, no refresh due, a readable credential — and returns
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

/** Output by file descriptor: creating process.stdout alone costs ~5% of startup (DESIGN §7). */
export interface FastIO {
  stdoutIsTTY(): boolean;
  /** Writes all of `text` to fd 1 or 2. */
  write(fd: 1 | 2, text: string): void;
}

const KEYCHAIN_SERVICE = 'authcli'; // = store/keychain.ts KEYCHAIN_SERVICE (that module loads the native binding)
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

/** File contents without following a symlink (as store/fs-safe.ts); null when absent; throws otherwise. */
function readNoFollow(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
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
  const text = readNoFollow(paths.configFile);
  if (text === null) return { profiles: {} };
  const index = readNoFollow(configIndexPath(paths));
  return index === null ? undefined : configFromIndex(index, paths.configFile, text);
}

type Keyring = typeof import('@napi-rs/keyring');

/** All entries of our keychain service (this is also select.ts's availability probe); undefined when unavailable. */
async function keychainEntries(): Promise<Map<string, string> | undefined> {
  let keyring: Keyring;
  try {
    // Loaded only here: the native binding costs ~4% of startup (DESIGN §7).
    keyring = require('@napi-rs/keyring') as Keyring;
  } catch {
    return undefined;
  }
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    const found = await Promise.race([
      keyring.findCredentialsAsync(KEYCHAIN_SERVICE, null, controller.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error('timeout'));
        }, KEYCHAIN_TIMEOUT_MS);
      }),
    ]);
    return new Map(found.map((c) => [c.account, c.password]));
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The stored credential text, or undefined when the slow path must decide
 * (not stored, encrypted, keychain unavailable without the fallback already
 * announced, or an MFA secret in the keychain — SECURITY R98).
 */
async function readCredentialText(profile: ResolvedProfile, paths: Paths): Promise<string | undefined> {
  const fileStore = join(paths.credentialsDir, `${profile.name}.json`);
  if (profile.storage === 'file') return readNoFollow(fileStore) ?? undefined;
  if (profile.storage === 'encrypted-file') return undefined;
  const entries = await keychainEntries();
  if (entries) {
    if (entries.has(`mfa:${profile.name}`)) return undefined;
    return entries.get(profile.name);
  }
  if (profile.storage === 'keychain') return undefined;
  // Default storage with no keychain: the file store, once select.ts has warned about it for this profile.
  const warned = readNoFollow(join(paths.stateDir, '.keychain-fallback-warned'));
  if (warned === null || !warned.split('\n').includes(profile.name)) return undefined;
  return readNoFollow(fileStore) ?? undefined;
}

/** Prints the token and returns 0, or returns undefined (nothing printed) for the full CLI to handle. */
export async function fastToken(argv: string[], env: NodeJS.ProcessEnv, io: FastIO): Promise<number | undefined> {
  const args = parseFastTokenArgs(argv);
  if (!args) return undefined;
  // SECURITY R03 is refused by main.ts; --debug output and the test clock live there too.
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0' || env.AUTH_DEBUG === '1' || env.AUTH_TEST_NOW_MS !== undefined) return undefined;
  let out: string;
  try {
    const paths = resolvePaths(env, process.platform, homedir());
    const config = loadConfigCheaply(paths);
    if (!config) return undefined;
    const profile = resolveProfile(config, env, args.profile === undefined ? {} : { profile: args.profile });
    if (profile.mfa.required) return undefined;
    if (profile.clientSecretEnv && !env[profile.clientSecretEnv]) return undefined;
    // MFA on (state file = mfa/state.ts mfaStatePath) or a secret left without state (secret-store.ts) → the guard decides.
    if (exists(join(paths.stateDir, 'mfa', `${profile.name}.json`)) || exists(join(paths.stateDir, 'secrets', 'mfa', profile.name))) return undefined;
    const text = await readCredentialText(profile, paths);
    if (text === undefined) return undefined;
    const cred = parseCredential(text);
    if (!cred || needsRefresh(cred, args.minTtl * 1000, Date.now())) return undefined;
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
