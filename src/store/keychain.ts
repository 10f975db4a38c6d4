import { AsyncEntry, findCredentialsAsync } from '@napi-rs/keyring';
import { AuthError } from '../errors.js';
import { checkSecretService } from './secret-service-check.js';
import { VaultTokenStore, type SecretVault } from './vault.js';

/**
 * The OS keychain through @napi-rs/keyring (DESIGN §4): macOS Keychain,
 * Windows Credential Manager, the Secret Service on Linux. Service `authcli`,
 * account = the key (profile name, or `<profile>:client-secret`), the value
 * as one secret string.
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
 * TIMEOUT_MS, as a last guard.
 */
export const KEYCHAIN_SERVICE = 'authcli';
/** A service that never holds anything: searching it proves the keychain answers without reading any secret. */
const PROBE_SERVICE = `${KEYCHAIN_SERVICE}-probe`;
const TIMEOUT_MS = 2000;

export type KeychainAvailability = { ok: true } | { ok: false; reason: string };

/** The keychain is not usable here; `reason` says why, in a few words for a message. */
export class KeychainUnavailableError extends AuthError {
  constructor(readonly reason: string) {
    super('AUTH_STORAGE', `The OS keychain is unavailable (${reason}).`);
    this.name = 'KeychainUnavailableError';
  }
}

/** First line of a keyring error; the native messages carry Rust backtraces. */
function reason(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!.trim().replace(/\.$/, '');
}

class KeychainTimeout extends Error {}

async function bounded<T>(what: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new KeychainTimeout(`the keychain did not answer within ${TIMEOUT_MS / 1000} s`));
    }, TIMEOUT_MS);
  });
  try {
    return await Promise.race([what(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Per process; keyed by the session bus so a test process can try more than one.
const availability = new Map<string, Promise<KeychainAvailability>>();
const busKey = (env: NodeJS.ProcessEnv) => `${env.DBUS_SESSION_BUS_ADDRESS ?? ''}\n${env.XDG_RUNTIME_DIR ?? ''}`;

/**
 * Whether the OS keychain answers here (once per process, at most 2 s). On
 * Linux: a Secret Service answers on the session bus (secret-service-check.ts)
 * — without one the library would silently use the non-persistent kernel
 * keyring. Elsewhere: a search of a service that holds nothing.
 */
export function probeKeychain(env: NodeJS.ProcessEnv = process.env): Promise<KeychainAvailability> {
  let state = availability.get(busKey(env));
  if (!state) {
    state = process.platform === 'linux'
      ? checkSecretService(env, TIMEOUT_MS)
      : bounded((signal) => findCredentialsAsync(PROBE_SERVICE, null, signal)).then(
          (): KeychainAvailability => ({ ok: true }),
          (e): KeychainAvailability => ({ ok: false, reason: reason(e) }),
        );
    availability.set(busKey(env), state);
  }
  return state;
}

function markUnavailable(env: NodeJS.ProcessEnv, why: string): KeychainUnavailableError {
  availability.set(busKey(env), Promise.resolve({ ok: false, reason: why }));
  return new KeychainUnavailableError(why);
}

async function requireAvailable(env: NodeJS.ProcessEnv): Promise<void> {
  const state = await probeKeychain(env);
  if (!state.ok) throw new KeychainUnavailableError(state.reason);
}

export class KeychainVault implements SecretVault {
  readonly kind = 'keychain' as const;
  constructor(readonly service = KEYCHAIN_SERVICE, private readonly env: NodeJS.ProcessEnv = process.env) {}

  describe(key: string): string {
    return `OS keychain (service ${this.service}, account ${key})`;
  }

  /** Only once the probe answered: on Linux the constructor talks to D-Bus on the main thread. */
  private async entry(key: string): Promise<AsyncEntry> {
    await requireAvailable(this.env);
    return new AsyncEntry(this.service, key);
  }

  private failure(action: string, key: string, e: unknown): AuthError {
    if (e instanceof AuthError) return e;
    if (e instanceof KeychainTimeout) return markUnavailable(this.env, e.message);
    return new AuthError('AUTH_STORAGE', `Could not ${action} ${key} in the OS keychain: ${reason(e)}.`);
  }

  async get(key: string): Promise<string | undefined> {
    const entry = await this.entry(key);
    let text: string | null | undefined;
    try {
      text = await bounded((signal) => entry.getPassword(signal));
    } catch (e) {
      throw this.failure('read', key, e);
    }
    return text ?? undefined;
  }

  async set(key: string, value: string): Promise<void> {
    const entry = await this.entry(key);
    try {
      await bounded((signal) => entry.setPassword(value, signal));
      // A write can "succeed" into a backend that does not keep it: read it back, and on
      // Linux find it through the Secret Service itself (not the kernel keyring).
      const back = await bounded((signal) => entry.getPassword(signal));
      if (back !== value) throw new KeychainUnavailableError('the secret did not read back after writing it');
      if (process.platform === 'linux') {
        const items = await bounded((signal) => findCredentialsAsync(this.service, null, signal));
        if (!items.some((c) => c.account === key && c.password === value)) {
          throw new KeychainUnavailableError('the secret landed in the non-persistent kernel keyring, not the Secret Service');
        }
      }
    } catch (e) {
      if (e instanceof AuthError) throw e;
      if (e instanceof KeychainTimeout) throw markUnavailable(this.env, e.message);
      // The keychain answered but refused the write (no default collection, locked, denied): unusable for us.
      throw new KeychainUnavailableError(`it refused to store the secret: ${reason(e)}`);
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      const entry = await this.entry(key);
      const existed = (await bounded((signal) => entry.getPassword(signal))) != null;
      if (!existed) return false;
      await bounded((signal) => entry.deleteCredential(signal));
      // The delete can report success when the keyring is unreachable: check by reading back.
      if ((await bounded((signal) => entry.getPassword(signal))) != null) throw new Error('the entry is still there after deleting it');
      return true;
    } catch (e) {
      throw this.failure('remove', key, e);
    }
  }
}

/** `keychain` store: one secret per profile. */
export class KeychainStore extends VaultTokenStore {
  declare readonly vault: KeychainVault;
  constructor(service = KEYCHAIN_SERVICE, env: NodeJS.ProcessEnv = process.env) {
    super(new KeychainVault(service, env));
  }
}
