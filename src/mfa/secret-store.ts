import { join } from 'node:path';
import type { StorageKind } from '../config/config.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { readPrivateFile, removeFile, writePrivateFileAtomic } from '../store/fs-safe.js';
import { KEYCHAIN_TIMEOUT_MS as TIMEOUT_MS, secretsDirectory } from '../store/layout.js';
import type { SecretBackend } from '../domain/mfa-state.js';

/**
 * Where MFA and authenticator secrets live (docs/design.md §2 "Secrets live in the
 * keychain", docs/security.md R91): the OS keychain (service `authcli`, account
 * `mfa:<profile>` or `authenticator:<name>` — a ':' never occurs in a profile
 * name, so these cannot collide with credentials), else a 0600 file under
 * `<state>/secrets/`. Which backend holds a secret is recorded next to it (MFA
 * state, authenticator index), so reads never guess.
 */
export type { SecretBackend };

export interface SecretStore {
  readonly backend: SecretBackend;
  describe(account: string): string;
  get(account: string): Promise<string | undefined>;
  set(account: string, value: string): Promise<void>;
  /** true when something was removed. */
  delete(account: string): Promise<boolean>;
}

function reason(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!.trim();
}

async function withTimeout<T>(what: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`the keychain did not answer within ${TIMEOUT_MS / 1000} s`));
    }, TIMEOUT_MS);
  });
  try {
    return await Promise.race([what(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

class KeychainSecretStore implements SecretStore {
  readonly backend = 'keychain' as const;
  constructor(private readonly service: string) {}
  describe(account: string): string {
    return `keychain (service ${this.service}, account ${account})`;
  }
  /**
   * Only once the Secret Service answered: on Linux the AsyncEntry constructor
   * talks to D-Bus on the main thread and would hang on a silent bus.
   */
  private async entry(account: string) {
    const state = await keychainUsable();
    if (!state.ok) throw new AuthError('AUTH_STORAGE', `The secret ${account} is recorded in the OS keychain, which is unavailable (${state.reason}).`);
    const { AsyncEntry } = await import('@napi-rs/keyring');
    return new AsyncEntry(this.service, account);
  }
  private fail(action: string, account: string, e: unknown): AuthError {
    return new AuthError('AUTH_STORAGE', `Could not ${action} the secret ${account} in the OS keychain: ${reason(e)}.`);
  }
  async get(account: string): Promise<string | undefined> {
    const entry = await this.entry(account);
    try {
      return (await withTimeout((signal) => entry.getPassword(signal))) ?? undefined;
    } catch (e) {
      throw this.fail('read', account, e);
    }
  }
  async set(account: string, value: string): Promise<void> {
    const entry = await this.entry(account);
    try {
      await withTimeout((signal) => entry.setPassword(value, signal));
      // Read back: a write can "succeed" into a backend that does not keep it (docs/design.md §4).
      if ((await withTimeout((signal) => entry.getPassword(signal))) !== value) throw new Error('the secret did not read back after writing');
    } catch (e) {
      throw this.fail('store', account, e);
    }
  }
  async delete(account: string): Promise<boolean> {
    const entry = await this.entry(account);
    try {
      if ((await withTimeout((signal) => entry.getPassword(signal))) == null) return false;
      await withTimeout((signal) => entry.deleteCredential(signal));
      // The async delete can report success when the keyring is unreachable: check by reading back.
      if ((await withTimeout((signal) => entry.getPassword(signal))) != null) throw new Error('the entry is still there after deleting it');
      return true;
    } catch (e) {
      throw this.fail('remove', account, e);
    }
  }
}

class FileSecretStore implements SecretStore {
  readonly backend = 'file' as const;
  constructor(private readonly dir: string) {}
  path(account: string): string {
    const [kind, ...rest] = account.split(':');
    return join(this.dir, kind!, rest.join(':'));
  }
  describe(account: string): string {
    return `file ${this.path(account)}`;
  }
  async get(account: string): Promise<string | undefined> {
    return readPrivateFile(this.path(account))?.toString('utf8');
  }
  async set(account: string, value: string): Promise<void> {
    writePrivateFileAtomic(this.path(account), value);
  }
  async delete(account: string): Promise<boolean> {
    return removeFile(this.path(account));
  }
}

function secretsDir(deps: Deps): string {
  return secretsDirectory(deps.paths);
}

/** The store that holds a secret already recorded as living in `backend`. */
export async function secretStoreFor(backend: SecretBackend, deps: Deps): Promise<SecretStore> {
  if (backend === 'file') return new FileSecretStore(secretsDir(deps));
  const { KEYCHAIN_SERVICE } = await import('../store/keychain.js');
  return new KeychainSecretStore(KEYCHAIN_SERVICE);
}

let probe: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;
async function keychainUsable() {
  probe ??= import('../store/keychain.js').then((m) => m.probeKeychain());
  return probe;
}

/**
 * The store a new secret goes to, chosen like the credential store (docs/design.md §4):
 * `file`/`encrypted-file` → a 0600 file; pinned `keychain` → the keychain or
 * exit 1; the default → the keychain, else a file with a warning naming it.
 */
export async function openSecretStore(kind: StorageKind | undefined, deps: Deps, what: string): Promise<SecretStore> {
  if (kind === 'file' || kind === 'encrypted-file') return secretStoreFor('file', deps);
  const state = await keychainUsable();
  if (state.ok) return secretStoreFor('keychain', deps);
  if (kind === 'keychain') {
    const { keychainHint } = await import('../store/select.js');
    throw new AuthError('AUTH_STORAGE', `The OS keychain is unavailable (${state.reason}), and storage is pinned to keychain; the ${what} was not stored.`, {
      hint: `${keychainHint(deps.platform)} Or set AUTH_STORAGE=file.`,
    });
  }
  deps.log.warn(`The OS keychain is unavailable (${state.reason}); the ${what} goes to a file readable only by you under ${secretsDir(deps)}.`);
  return secretStoreFor('file', deps);
}

/**
 * Every backend that might hold `account`, for detecting a secret whose
 * bookkeeping was lost (docs/security.md R98). The keychain is asked only when the
 * storage setting allows it and it answers.
 */
export async function findSecret(account: string, kind: StorageKind | undefined, deps: Deps): Promise<{ store: SecretStore; value: string } | undefined> {
  const file = await secretStoreFor('file', deps);
  const fromFile = await file.get(account);
  if (fromFile !== undefined) return { store: file, value: fromFile };
  if (kind === 'file' || kind === 'encrypted-file') return undefined;
  if (!(await keychainUsable()).ok) return undefined;
  const keychain = await secretStoreFor('keychain', deps);
  const value = await keychain.get(account);
  return value === undefined ? undefined : { store: keychain, value };
}
