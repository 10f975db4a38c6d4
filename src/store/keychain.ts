import { createHash, randomBytes } from 'node:crypto';
import type { AsyncEntry } from '@napi-rs/keyring';
import { authCommand, AuthError } from '../errors.js';
import { busKey, checkSecretService } from './secret-service-check.js';
import { VaultTokenStore, type SecretVault } from './vault.js';

/**
 * The OS keychain through @napi-rs/keyring (docs/design.md §4): macOS Keychain,
 * Windows Credential Manager, the Secret Service on Linux. Service `authcli`,
 * account = the key (profile name, or `<profile>:client-secret`), the value
 * as one secret string (in chunks when it is too long for one entry, below).
 *
 * Three traps on Linux shape this file. Without a Secret Service the library
 * quietly uses the kernel keyring, which forgets everything at reboot: there
 * `getPassword` answers null instead of failing. Its calls cannot be
 * cancelled: against a bus or keyring daemon that never answers they block
 * for good (the AsyncEntry constructor on the main thread, the rest on the
 * thread pool, which then keeps Node from exiting at all). So on Linux nothing
 * touches the library before secret-service-check.ts has seen, over a socket
 * we can close, that a Secret Service answers; and a write counts only once
 * the Secret Service itself returns it. Calls are still bounded by
 * store/layout.ts keychainTimeoutMs, as a last guard.
 *
 * Windows Credential Manager keeps at most 2560 bytes per secret
 * (CRED_MAX_CREDENTIAL_BLOB_SIZE), stored as UTF-16: about 1280 characters,
 * less than an OIDC credential with a JWT access token and ID token. A value
 * longer than maxSecret() is stored in chunks (see set()).
 */
import { KEYCHAIN_CHUNK_PREFIX, KEYCHAIN_SERVICE, keychainTimeoutMs } from './layout.js';
import { KeychainTimeout, withKeychainTimeout } from './keychain-timeout.js';
import type { KeychainAvailability, StorageContext } from './context.js';

/**
 * The native binding, loaded on first use: a command that never reaches a keychain (`storage:
 * file`, or no Secret Service answered the probe) never loads it (docs/design.md §7).
 */
const keyring = async (): Promise<typeof import('@napi-rs/keyring')> =>
  (typeof require === 'function' ? require('@napi-rs/keyring') : await import('@napi-rs/keyring')) as typeof import('@napi-rs/keyring');
const findCredentialsAsync: (typeof import('@napi-rs/keyring'))['findCredentialsAsync'] = async (...args) => (await keyring()).findCredentialsAsync(...args);

/** A service that never holds anything: searching it proves the keychain answers without reading any secret. */
const PROBE_SERVICE = `${KEYCHAIN_SERVICE}-probe`;
/** Characters per secret on Windows: 2400 bytes of UTF-16, under CRED_MAX_CREDENTIAL_BLOB_SIZE (2560). */
const WINDOWS_MAX_SECRET = 1200;
/** Floor for the test override: the chunk header itself must fit in one entry. */
const MIN_MAX_SECRET = 128;
/**
 * A main entry that starts with this is a chunk header,
 * `authcli-chunked:v1:<gen>:<n>:<sha256 hex of the whole value>`, and the value
 * is in accounts `<key>#<gen>#0` … `<key>#<gen>#<n-1>`. The `auth token` fast
 * path (src/fast/token.ts) knows the prefix and leaves such entries to the full CLI.
 */
const CHUNK_HEADER_PREFIX = KEYCHAIN_CHUNK_PREFIX;
const CHUNK_HEADER = /^authcli-chunked:v1:([0-9a-f]{16}):([1-9][0-9]{0,5}):([0-9a-f]{64})$/;
/** What follows `<key>` in a chunk's account (profile names and keys never contain `#`). */
const CHUNK_SUFFIX = /^#[0-9a-f]{16}#[0-9]{1,6}$/;

interface ChunkHeader {
  gen: string;
  count: number;
  sha256: string;
}

function parseHeader(text: string): ChunkHeader | undefined {
  const m = CHUNK_HEADER.exec(text);
  return m ? { gen: m[1]!, count: Number(m[2]), sha256: m[3]! } : undefined;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const chunkAccount = (key: string, gen: string, i: number) => `${key}#${gen}#${i}`;

/** Pieces of at most `size` UTF-16 units, never splitting a surrogate pair. */
function splitValue(value: string, size: number): string[] {
  const parts: string[] = [];
  for (let start = 0; start < value.length; ) {
    let end = Math.min(start + size, value.length);
    const last = value.charCodeAt(end - 1);
    if (end < value.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    parts.push(value.slice(start, end));
    start = end;
  }
  return parts;
}

export type { KeychainAvailability };

/** The keychain is not usable here; `reason` says why, in a few words for a message. */
export class KeychainUnavailableError extends AuthError {
  constructor(readonly reason: string) {
    super('AUTH_STORAGE', `The OS keychain is unavailable (${reason}).`);
    this.name = 'KeychainUnavailableError';
  }
}

/**
 * The keychain is there but did not answer in time (a stuck or overloaded keyring daemon).
 * A write may still fall back to the file (so a rotated refresh token is kept), but a read
 * or a delete must not be taken for "nothing stored": that would report a signed-in profile
 * as not logged in, or a logout that removed nothing as done.
 */
export class KeychainNoAnswerError extends KeychainUnavailableError {
  constructor(reason: string) {
    super(reason);
    this.name = 'KeychainNoAnswerError';
  }
}

/** First line of a keyring error; the native messages carry Rust backtraces. */
function reason(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!.trim().replace(/\.$/, '');
}

/** A keychain call under this invocation's bound (store/keychain-timeout.ts). */
const bounded = <T>(env: NodeJS.ProcessEnv, what: (signal: AbortSignal) => Promise<T>) => withKeychainTimeout(what, keychainTimeoutMs(env));


/**
 * Whether the OS keychain answers here (once per process, at most 2 s). On
 * Linux: a Secret Service answers on the session bus (secret-service-check.ts)
 * — without one the library would silently use the non-persistent kernel
 * keyring. Elsewhere: a search of a service that holds nothing.
 */
export function probeKeychain(env: NodeJS.ProcessEnv, verdicts: StorageContext['keychain']): Promise<KeychainAvailability> {
  let state = verdicts.get(busKey(env));
  if (!state) {
    state = process.platform === 'linux'
      ? checkSecretService(env, keychainTimeoutMs(env))
      : bounded(env, (signal) => findCredentialsAsync(PROBE_SERVICE, null, signal)).then(
          (): KeychainAvailability => ({ ok: true }),
          (e): KeychainAvailability => ({ ok: false, reason: reason(e) }),
        );
    verdicts.set(busKey(env), state);
  }
  return state;
}

/** A call timed out: for the rest of this process the keychain counts as not answering (each call would wait again). */
function markNoAnswer(env: NodeJS.ProcessEnv, verdicts: StorageContext['keychain'], why: string): KeychainNoAnswerError {
  verdicts.set(busKey(env), Promise.resolve({ ok: false, reason: why, noAnswer: true }));
  return new KeychainNoAnswerError(why);
}

async function requireAvailable(env: NodeJS.ProcessEnv, verdicts: StorageContext['keychain']): Promise<void> {
  const state = await probeKeychain(env, verdicts);
  if (!state.ok) throw state.noAnswer ? new KeychainNoAnswerError(state.reason) : new KeychainUnavailableError(state.reason);
}

export class KeychainVault implements SecretVault {
  readonly kind = 'keychain' as const;
  /** `verdicts`: the invocation's keychain verdicts (store/context.ts); a fresh map when used alone. */
  constructor(readonly service = KEYCHAIN_SERVICE, private readonly env: NodeJS.ProcessEnv, private readonly verdicts: StorageContext['keychain'] = new Map()) {}

  describe(key: string): string {
    return `OS keychain (service ${this.service}, account ${key})`;
  }

  /** Only once the probe answered: on Linux the constructor talks to D-Bus on the main thread. */
  private async entry(key: string): Promise<AsyncEntry> {
    await requireAvailable(this.env, this.verdicts);
    const { AsyncEntry } = await keyring();
    return new AsyncEntry(this.service, key);
  }

  private failure(action: string, key: string, e: unknown): AuthError {
    if (e instanceof AuthError) return e;
    if (e instanceof KeychainTimeout) return markNoAnswer(this.env, this.verdicts, e.message);
    return new AuthError('AUTH_STORAGE', `Could not ${action} ${key} in the OS keychain: ${reason(e)}.`);
  }

  /**
   * Longest secret one entry takes: 1200 characters on Windows, no limit
   * elsewhere; AUTH_TEST_KEYCHAIN_MAX_SECRET (digits) sets it for tests.
   */
  maxSecret(): number {
    const override = this.env.AUTH_TEST_KEYCHAIN_MAX_SECRET;
    if (override !== undefined && /^[0-9]{1,9}$/.test(override)) return Math.max(Number(override), MIN_MAX_SECRET);
    return process.platform === 'win32' ? WINDOWS_MAX_SECRET : Infinity;
  }

  private damaged(key: string): AuthError {
    const [profile = key, kind] = key.split(':');
    const what = kind === 'client-secret' ? 'client secret' : 'credential';
    const again = kind === 'client-secret' ? `store the client secret of profile ${profile} again (\`auth setup\`)` : `run \`${authCommand('login', profile)}\` again`;
    return new AuthError('AUTH_STORAGE', `The stored ${what} in the ${this.describe(key)} is damaged: it is kept in parts, and a part is missing or does not match. To replace it, ${again}.`);
  }

  /** One entry as the keychain holds it: null when absent. */
  private async readRaw(account: string): Promise<string | null> {
    const entry = await this.entry(account);
    return (await bounded(this.env, (signal) => entry.getPassword(signal))) ?? null;
  }

  /** The value a header points at, or undefined when a chunk is missing or the whole does not match. */
  private async readChunks(key: string, header: ChunkHeader): Promise<string | undefined> {
    let value = '';
    for (let i = 0; i < header.count; i++) {
      const part = await this.readRaw(chunkAccount(key, header.gen, i));
      if (part === null) return undefined;
      value += part;
    }
    return sha256(value) === header.sha256 ? value : undefined;
  }

  async get(key: string): Promise<string | undefined> {
    try {
      for (let attempt = 0; ; attempt++) {
        const text = await this.readRaw(key);
        if (text === null || !text.startsWith(CHUNK_HEADER_PREFIX)) return text ?? undefined;
        const header = parseHeader(text);
        if (!header) throw this.damaged(key);
        const value = await this.readChunks(key, header);
        if (value !== undefined) return value;
        // Another process may have replaced the value (and removed these chunks) between
        // the reads: only a header that still stands over missing parts is damage.
        if (attempt >= 2 || (await this.readRaw(key)) === text) throw this.damaged(key);
      }
    } catch (e) {
      throw this.failure('read', key, e);
    }
  }

  /**
   * Writes entries in order, each read back; on Linux then finds them all
   * through the Secret Service itself (not the kernel keyring).
   */
  private async writeVerified(entries: Array<[account: string, value: string]>): Promise<void> {
    for (const [account, value] of entries) {
      const entry = await this.entry(account);
      await bounded(this.env, (signal) => entry.setPassword(value, signal));
      // A write can "succeed" into a backend that does not keep it: read it back.
      const back = await bounded(this.env, (signal) => entry.getPassword(signal));
      if (back !== value) throw new KeychainUnavailableError('the secret did not read back after writing it');
    }
    if (process.platform === 'linux') {
      const items = await bounded(this.env, (signal) => findCredentialsAsync(this.service, null, signal));
      if (!entries.every(([account, value]) => items.some((c) => c.account === account && c.password === value))) {
        throw new KeychainUnavailableError('the secret landed in the non-persistent kernel keyring, not the Secret Service');
      }
    }
  }

  /**
   * A value longer than maxSecret() goes in chunks, crash-safe: first the chunks
   * of a new generation, then the main entry as a header naming them, then the
   * chunks of the generation it replaced. Until the header is written the old
   * value stands whole; after it, the new one. Chunks no header names are
   * leftovers of an interrupted write, harmless, and removed by delete().
   */
  async set(key: string, value: string): Promise<void> {
    let written: string[] = [];
    try {
      const old = await this.readRaw(key);
      const oldHeader = old === null ? undefined : parseHeader(old);
      const max = this.maxSecret();
      // A short value that looks like a header is chunked too, so it is never misread as one.
      if (value.length <= max && !value.startsWith(CHUNK_HEADER_PREFIX)) {
        await this.writeVerified([[key, value]]);
      } else {
        const gen = randomBytes(8).toString('hex');
        const chunks = splitValue(value, max).map((part, i): [string, string] => [chunkAccount(key, gen, i), part]);
        written = chunks.map(([account]) => account);
        await this.writeVerified(chunks);
        written = [];
        await this.writeVerified([[key, `${CHUNK_HEADER_PREFIX}v1:${gen}:${chunks.length}:${sha256(value)}`]]);
      }
      // The new value stands: the old chunks are leftovers now, so a failure removing them is not a failed write.
      if (oldHeader) {
        for (let i = 0; i < oldHeader.count; i++) await this.remove(chunkAccount(key, oldHeader.gen, i)).catch(() => false);
      }
    } catch (e) {
      // Chunks of a write that did not complete: remove what can be (not after a timeout, which would only wait again).
      if (!(e instanceof KeychainTimeout)) for (const account of written) await this.remove(account).catch(() => false);
      if (e instanceof AuthError) throw e;
      if (e instanceof KeychainTimeout) throw markNoAnswer(this.env, this.verdicts, e.message);
      // The keychain answered but refused the write (no default collection, locked, denied): unusable for us.
      throw new KeychainUnavailableError(`it refused to store the secret: ${reason(e)}`);
    }
  }

  /** Deletes one entry; true when it was there. The delete can report success when the keyring is unreachable: read back. */
  private async remove(account: string): Promise<boolean> {
    const entry = await this.entry(account);
    const existed = (await bounded(this.env, (signal) => entry.getPassword(signal))) != null;
    if (!existed) return false;
    await bounded(this.env, (signal) => entry.deleteCredential(signal));
    if ((await bounded(this.env, (signal) => entry.getPassword(signal))) != null) throw new Error('the entry is still there after deleting it');
    return true;
  }

  /** Chunk accounts of `key` under this service, of any generation (leftovers included). */
  private async chunkAccounts(key: string): Promise<string[]> {
    let items: Array<{ account: string }>;
    try {
      items = await bounded(this.env, (signal) => findCredentialsAsync(this.service, null, signal));
    } catch (e) {
      if (e instanceof KeychainTimeout) throw e;
      return []; // a listing the backend cannot give: the chunks named by the header are still removed
    }
    return items.map((c) => c.account).filter((a) => a.startsWith(`${key}#`) && CHUNK_SUFFIX.test(a.slice(key.length)));
  }

  /** Removes the main entry first (so no header outlives its chunks), then every chunk of `key`. */
  async delete(key: string): Promise<boolean> {
    try {
      const text = await this.readRaw(key);
      const header = text === null ? undefined : parseHeader(text);
      const existed = text !== null && (await this.remove(key));
      const chunks = new Set(header ? Array.from({ length: header.count }, (_, i) => chunkAccount(key, header.gen, i)) : []);
      for (const account of await this.chunkAccounts(key)) chunks.add(account);
      for (const account of chunks) await this.remove(account);
      return existed;
    } catch (e) {
      throw this.failure('remove', key, e);
    }
  }
}

/** `keychain` store: one secret per profile. */
export class KeychainStore extends VaultTokenStore {
  declare readonly vault: KeychainVault;
  constructor(service = KEYCHAIN_SERVICE, env: NodeJS.ProcessEnv, verdicts?: StorageContext['keychain']) {
    super(new KeychainVault(service, env, verdicts));
  }
}
