import { join } from 'node:path';
import type { StorageKind } from '../config/names.js';
import type { Deps } from '../deps.js';
import type { SecretBackend } from '../domain/mfa-state.js';
import { AuthError } from '../errors.js';
import { isEncryptedBlob } from './file.js';
import { readPrivateFile, removeFile, writePrivateFileAtomic } from './fs-safe.js';
import { KEYCHAIN_SERVICE, secretsDirectory } from './layout.js';
import type { SecretVault } from './vault.js';

/**
 * Secrets that are not a profile's credential — MFA factors (`mfa:<profile>`) and
 * authenticator seeds (`authenticator:<name>`) — kept by the same backends as
 * credentials (docs/design.md §4, docs/security.md R91): the keychain vault
 * (store/keychain.ts: one timeout, chunking, read-back), else a 0600 file under
 * `<state>/secrets/<kind>/<name>`, encrypted with the credential passphrase when the
 * storage is `encrypted-file` (store/encrypted-file.ts). Which backend holds a secret
 * is recorded next to it (MFA state, authenticator index), so reads never guess.
 */
export interface SecretStore {
  readonly backend: SecretBackend;
  describe(account: string): string;
  get(account: string): Promise<string | undefined>;
  set(account: string, value: string): Promise<void>;
  /** true when something was removed. */
  delete(account: string): Promise<boolean>;
}

/** `<state>/secrets/mfa/<profile>` for `mfa:<profile>` (the layout every version has used). */
const secretFile = (deps: Deps, account: string) => {
  const [kind, ...rest] = account.split(':');
  return join(secretsDirectory(deps.paths), kind!, rest.join(':'));
};

/**
 * The file `secretFile(account)`: read whichever format it is in (an encrypted file needs the
 * passphrase); written encrypted when the storage is `encrypted-file`, where a plain file
 * left from before is encrypted on first read.
 */
class FileSecretStore implements SecretStore {
  readonly backend = 'file' as const;
  private sealed: SecretVault | undefined;
  constructor(private readonly deps: Deps, private readonly encryptWrites: boolean) {}
  describe(account: string): string {
    return `${this.encryptWrites ? 'encrypted file' : 'file'} ${secretFile(this.deps, account)}`;
  }
  private async vault(): Promise<SecretVault> {
    if (!this.sealed) {
      const { EncryptedFileVault } = await import('./encrypted-file.js');
      this.sealed = new EncryptedFileVault(secretsDirectory(this.deps.paths), this.deps, undefined, (account) => secretFile(this.deps, account));
    }
    return this.sealed;
  }
  async get(account: string): Promise<string | undefined> {
    const bytes = readPrivateFile(secretFile(this.deps, account));
    if (bytes === undefined) return undefined;
    if (isEncryptedBlob(bytes)) return (await this.vault()).get(account);
    const plain = bytes.toString('utf8');
    if (this.encryptWrites) await (await this.vault()).set(account, plain);
    return plain;
  }
  async set(account: string, value: string): Promise<void> {
    if (this.encryptWrites) await (await this.vault()).set(account, value);
    else writePrivateFileAtomic(secretFile(this.deps, account), value);
  }
  async delete(account: string): Promise<boolean> {
    return removeFile(secretFile(this.deps, account));
  }
}

class KeychainSecretStore implements SecretStore {
  readonly backend = 'keychain' as const;
  constructor(private readonly vault: SecretVault) {}
  describe(account: string): string {
    return this.vault.describe(account);
  }
  async get(account: string): Promise<string | undefined> {
    return this.vault.get(account).catch((e) => unavailable(e, account));
  }
  async set(account: string, value: string): Promise<void> {
    await this.vault.set(account, value).catch((e) => unavailable(e, account));
  }
  async delete(account: string): Promise<boolean> {
    return this.vault.delete(account).catch((e) => unavailable(e, account));
  }
}

async function unavailable(e: unknown, account: string): Promise<never> {
  const { KeychainUnavailableError } = await import('./keychain.js');
  if (e instanceof KeychainUnavailableError) throw new AuthError('AUTH_STORAGE', `The secret ${account} is recorded in the OS keychain, which is unavailable (${e.reason}).`);
  throw e;
}

/** The store that holds a secret already recorded as living in `backend`; `kind` decides whether files are encrypted. */
export async function secretStoreFor(backend: SecretBackend, deps: Deps, kind?: StorageKind): Promise<SecretStore> {
  if (backend === 'file') return new FileSecretStore(deps, kind === 'encrypted-file');
  const { KeychainVault } = await import('./keychain.js');
  return new KeychainSecretStore(new KeychainVault(KEYCHAIN_SERVICE, deps.env, deps.storage.keychain));
}

async function keychainUsable(deps: Deps) {
  const { probeKeychain } = await import('./keychain.js');
  return probeKeychain(deps.env, deps.storage.keychain);
}

/**
 * The store a new secret goes to, chosen like the credential store (docs/design.md §4):
 * `file`/`encrypted-file` → a 0600 file (encrypted for `encrypted-file`); pinned
 * `keychain` → the keychain or exit 1; the default → the keychain, else a file with a
 * warning naming it.
 */
export async function openSecretStore(kind: StorageKind | undefined, deps: Deps, what: string): Promise<SecretStore> {
  if (kind === 'file' || kind === 'encrypted-file') return secretStoreFor('file', deps, kind);
  const state = await keychainUsable(deps);
  if (state.ok) return secretStoreFor('keychain', deps);
  if (kind === 'keychain') {
    const { keychainHint } = await import('./select.js');
    throw new AuthError('AUTH_STORAGE', `The OS keychain is unavailable (${state.reason}), and storage is pinned to keychain; the ${what} was not stored.`, {
      hint: `${keychainHint(deps.platform)} Or set AUTH_STORAGE=file.`,
    });
  }
  deps.log.warn(`The OS keychain is unavailable (${state.reason}); the ${what} goes to a file readable only by you under ${secretsDirectory(deps.paths)}.`);
  return secretStoreFor('file', deps);
}

/**
 * Every backend that might hold `account`, for detecting a secret whose
 * bookkeeping was lost (docs/security.md R98). The keychain is asked only when the
 * storage setting allows it and it answers.
 */
export async function findSecret(account: string, kind: StorageKind | undefined, deps: Deps): Promise<{ store: SecretStore; value: string } | undefined> {
  const file = await secretStoreFor('file', deps, kind);
  const fromFile = await file.get(account);
  if (fromFile !== undefined) return { store: file, value: fromFile };
  if (kind === 'file' || kind === 'encrypted-file') return undefined;
  if (!(await keychainUsable(deps)).ok) return undefined;
  const keychain = await secretStoreFor('keychain', deps);
  const value = await keychain.get(account);
  return value === undefined ? undefined : { store: keychain, value };
}
