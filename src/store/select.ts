import { join } from 'node:path';
import type { StorageKind } from '../config/names.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import type { EncryptedFileVault } from './encrypted-file.js';
import { FileVault, isEncryptedBlob, Reservations } from './file.js';
import type { KeychainVault } from './keychain.js';
import { readPrivateFile, writePrivateFileAtomic } from './fs-safe.js';
import { acquireLock } from './lock.js';
import type { TokenStore } from './token-store.js';
import { VaultTokenStore, type SecretVault } from './vault.js';
import { touchChangeStamp } from './change-stamp.js';

/**
 * Which store holds a profile's secrets (docs/design.md §4, docs/security.md R73).
 *
 * - `storage` unset: the OS keychain; when it is unavailable, the `file` store
 *   with a warning naming the file when one is first written there.
 * - `storage: keychain` (config, AUTH_STORAGE): the keychain or exit 1.
 * - `storage: file` / `encrypted-file`: that store.
 *
 * Reads look in the chosen store first and then in the others; a secret found
 * elsewhere is moved into the chosen store (written there, then removed from
 * where it was). That is how a credential that landed in the file fallback
 * reaches the keychain once there is one, and how changing `storage:` moves a
 * credential without leaving a copy behind. Writes remove copies from the
 * other stores; deletes remove the secret from every store.
 */
export async function openStore(kind: StorageKind | undefined, profile: string, deps: Deps): Promise<TokenStore> {
  return new VaultTokenStore(await openVault(kind, profile, deps), (p) => touchChangeStamp(deps.paths, p));
}

/** The layered vault for a profile's secrets; `profile` names it in messages. */
export async function openVault(kind: StorageKind | undefined, profile: string, deps: Deps): Promise<LayeredVault> {
  const vault = new LayeredVault(kind, profile, deps);
  // A pinned keychain that is not there fails now, before a sign-in whose result could not be stored.
  if (kind === 'keychain') {
    const { probeKeychain } = await import('./keychain.js');
    const state = await probeKeychain(deps.env, deps.storage.keychain);
    if (!state.ok) throw new PinnedKeychainUnavailableError(profile, state.reason, deps.platform);
  }
  return vault;
}

export function keychainHint(platform: NodeJS.Platform): string {
  return platform === 'linux'
    ? 'To use a keychain on Linux, run a Secret Service (gnome-keyring, KeePassXC, KWallet). On a headless box: `dbus-run-session -- bash`, then in that shell `read -rs pw && printf %s "$pw" | gnome-keyring-daemon --unlock --components=secrets`. See docs/storage.md.'
    : 'Make sure the OS keychain is unlocked and reachable from this session. See docs/storage.md.';
}

/** A profile pinned to `storage: keychain` on a machine where no keychain answers: nothing there can be read, written or deleted. */
export class PinnedKeychainUnavailableError extends AuthError {
  constructor(profile: string, readonly reason: string, platform: NodeJS.Platform) {
    super('AUTH_STORAGE', `The OS keychain is unavailable (${reason}), and profile ${profile} is set to \`storage: keychain\`, so nothing was read or stored.`, {
      hint: `${keychainHint(platform)}\n  Or choose another store for this profile: \`storage: encrypted-file\` or \`storage: file\` in config.yaml, or AUTH_STORAGE=encrypted-file.`,
    });
  }
}

export class LayeredVault implements SecretVault {
  private readonly file: FileVault;
  /** Both file vaults write the same files: one set of write reservations (store/file.ts). */
  private readonly reservations = new Reservations();
  private encrypted: EncryptedFileVault | undefined;
  private keychainVault: KeychainVault | undefined;
  /** Set once the keychain turned out to be unavailable (default storage only). */
  private fallbackReason: string | undefined;

  constructor(private readonly requested: StorageKind | undefined, private readonly profile: string, private readonly deps: Deps) {
    this.file = new FileVault(deps.paths.credentialsDir, this.warnPermissions, this.reservations);
  }

  private readonly warnPermissions = (message: string) => this.deps.log.warn(message);

  get kind(): StorageKind {
    if (this.requested === 'file' || this.requested === 'encrypted-file') return this.requested;
    return this.fallbackReason === undefined ? 'keychain' : 'file';
  }

  describe(key: string): string {
    if (this.fallbackReason !== undefined) return `${this.file.describe(key)} (fallback: the OS keychain is unavailable: ${this.fallbackReason})`;
    if (this.kind === 'keychain') return `OS keychain (service authcli, account ${key})`;
    return this.kind === 'file' ? this.file.describe(key) : `encrypted file ${this.file.path(key)}`;
  }

  private async enc(): Promise<EncryptedFileVault> {
    if (!this.encrypted) {
      const { EncryptedFileVault } = await import('./encrypted-file.js');
      this.encrypted = new EncryptedFileVault(this.deps.paths.credentialsDir, this.deps, this.warnPermissions, undefined, this.reservations);
    }
    return this.encrypted;
  }

  private async keychain(): Promise<KeychainVault> {
    if (!this.keychainVault) {
      const { KeychainVault } = await import('./keychain.js');
      this.keychainVault = new KeychainVault(undefined, this.deps.env, this.deps.storage.keychain);
    }
    return this.keychainVault;
  }

  private async vaultOf(kind: StorageKind): Promise<SecretVault> {
    if (kind === 'file') return this.file;
    if (kind === 'encrypted-file') return this.enc();
    return this.keychain();
  }

  /** The other stores a secret may still sit in, cheapest first. */
  private others(): StorageKind[] {
    const all: StorageKind[] = ['file', 'encrypted-file', 'keychain'];
    return all.filter((k) => k !== this.kind && !(k === 'keychain' && this.fallbackReason !== undefined));
  }

  /**
   * The keychain is unavailable: an error when pinned, else switch to the file fallback.
   * A keychain that is there but did not answer is different for reads and deletes: the
   * secret may well be in it, so unless the fallback file holds a copy (the newer one, see
   * preferFallbackCopy) this fails (exit 1) rather than report "not logged in" or "removed".
   */
  private async keychainUnavailable(e: unknown, op: 'read' | 'write' | 'delete', key: string): Promise<void> {
    const { KeychainUnavailableError, KeychainNoAnswerError } = await import('./keychain.js');
    if (!(e instanceof KeychainUnavailableError) || this.kind !== 'keychain') throw e;
    if (e instanceof KeychainNoAnswerError && op !== 'write' && !(op === 'read' && this.file.getSync(key) !== undefined)) {
      throw new AuthError('AUTH_STORAGE', `The OS keychain did not answer (${e.reason}), so ${this.what(key).replace(/^The/, 'the')} could not be ${op === 'read' ? 'read' : 'removed'}; nothing was changed.`, {
        hint: 'Try again in a moment. If it keeps happening, the keyring daemon may be stuck: restart it (for gnome-keyring, log out and in again, or `gnome-keyring-daemon --replace --daemonize`).',
      });
    }
    if (this.requested === 'keychain') throw new PinnedKeychainUnavailableError(this.profile, e.reason, this.deps.platform);
    this.fallbackReason = e.reason;
    this.deps.log.debug(`keychain unavailable (${e.reason}); using the file store`);
  }

  async get(key: string): Promise<string | undefined> {
    let value: string | undefined;
    try {
      value = await (await this.vaultOf(this.kind)).get(key);
    } catch (e) {
      await this.keychainUnavailable(e, 'read', key);
      value = await this.file.get(key);
    }
    if (value !== undefined && this.kind === 'keychain' && this.fallbackReason === undefined) return this.preferFallbackCopy(key, value);
    return value ?? this.moveFromOthers(key);
  }

  /**
   * A plain file beside a keychain entry was written while the keychain failed for some
   * process (a write that timed out, say) — after the entry, since a move into the keychain
   * removes the file. So the file is the newer copy: with refresh-token rotation, using the
   * entry would replay a refresh token the provider already rotated and end the session.
   * The file copy wins and moves into the keychain.
   */
  /**
   * A lock of its own for moving `key` between stores (not the refresh lock, which a caller
   * may hold): two processes moving at once must not write an older copy over a newer one.
   */
  private moveLock(key: string) {
    return acquireLock(this.deps.paths.locksDir, `${key.replace(/[^A-Za-z0-9._-]/g, '_')}+move`, this.deps.signal);
  }

  private async preferFallbackCopy(key: string, value: string): Promise<string> {
    if (this.file.getSync(key) === undefined) return value;
    const lock = await this.moveLock(key);
    try {
      const copy = this.file.getSync(key);
      if (copy === undefined) return (await (await this.keychain()).get(key)) ?? value;
      if (copy !== value) {
        this.deps.log.debug(`${this.what(key).replace(/^The/, 'the')} has a newer copy in ${this.file.path(key)} (written while the keychain failed); using it`);
        await this.set(key, copy);
      } else {
        await this.file.delete(key);
      }
      return copy;
    } finally {
      lock.release();
    }
  }

  private async readOther(kind: StorageKind, key: string): Promise<string | undefined> {
    try {
      return await (await this.vaultOf(kind)).get(key);
    } catch (e) {
      const { KeychainUnavailableError } = await import('./keychain.js');
      if (e instanceof KeychainUnavailableError) return undefined;
      if (e instanceof AuthError) {
        throw new AuthError(e.code, `${this.what(key)} is still in the ${(await this.vaultOf(kind)).describe(key)} from an earlier storage setting, and reading it there failed: ${e.message}`, e.hint ? { hint: e.hint } : {});
      }
      throw e;
    }
  }

  private what(key: string): string {
    const [profile, kind] = key.split(':');
    return kind === 'client-secret' ? `The client secret of profile ${profile}` : `The credential of profile ${profile}`;
  }

  private async moveFromOthers(key: string): Promise<string | undefined> {
    for (const kind of this.others()) {
      const value = await this.readOther(kind, key);
      if (value === undefined) continue;
      const lock = await this.moveLock(key);
      try {
        const already = await (await this.vaultOf(this.kind)).get(key).catch(() => undefined);
        if (already !== undefined) return already;
        const from = (await this.vaultOf(kind)).describe(key);
        await this.set(key, value);
        // The two file stores share a path: that move is a rewrite in place.
        if (kind !== 'keychain' && this.kind !== 'keychain') {
          this.deps.log.info(`${this.what(key)} in ${this.file.path(key)} is now ${this.kind === 'encrypted-file' ? 'encrypted' : 'stored unencrypted'} (storage: ${this.kind}).`);
        } else {
          this.deps.log.info(`${this.what(key)} moved from the ${from} to the ${this.describe(key)}.`);
        }
        return value;
      } finally {
        lock.release();
      }
    }
    return undefined;
  }

  async set(key: string, value: string): Promise<void> {
    if (this.kind === 'keychain') {
      try {
        await (await this.keychain()).set(key, value);
      } catch (e) {
        await this.keychainUnavailable(e, 'write', key);
      }
    }
    if (this.kind !== 'keychain') {
      const existing = this.file.read(key);
      const created = existing === undefined || isEncryptedBlob(existing) !== (this.kind === 'encrypted-file');
      await (await this.vaultOf(this.kind)).set(key, value);
      if (this.fallbackReason !== undefined && created) this.warnFallback(key);
    }
    await this.removeCopies(key);
  }

  private warnFallback(key: string): void {
    // The `auth token` fast path (src/fast/token.ts) reads a fallback file only for profiles listed here.
    const marker = join(this.deps.paths.stateDir, '.keychain-fallback-warned');
    const listed = readPrivateFile(marker)?.toString('utf8') ?? '';
    if (!listed.split('\n').includes(this.profile)) writePrivateFileAtomic(marker, `${listed}${this.profile}\n`);
    if (this.deps.storage.fallbackWarned) return;
    this.deps.storage.fallbackWarned = true;
    this.deps.log.warn(`The OS keychain is unavailable (${this.fallbackReason}), so ${this.what(key).replace(/^The/, 'the')} was saved in ${this.file.path(key)}, a plain file only you can read.`);
    this.deps.log.info(`  ${keychainHint(this.deps.platform)}`);
    this.deps.log.info('  To keep it encrypted instead, set `storage: encrypted-file` for the profile (or AUTH_STORAGE=encrypted-file) with AUTH_PASSPHRASE.');
  }

  /** After a write to the chosen store: no copy stays behind anywhere else. */
  private async removeCopies(key: string): Promise<void> {
    // Both file stores use the same path, so a write to either replaced the other's file.
    if (this.kind === 'keychain') await this.file.delete(key);
    else if (this.fallbackReason === undefined) await this.deleteFromKeychain(key);
  }

  private async deleteFromKeychain(key: string): Promise<boolean> {
    try {
      return await (await this.keychain()).delete(key);
    } catch (e) {
      const { KeychainUnavailableError } = await import('./keychain.js');
      if (e instanceof KeychainUnavailableError) return false;
      throw e;
    }
  }

  /**
   * The file stores reserve their file. The keychain keeps its own storage, but a keychain
   * write that fails falls back to the file (default storage), so that file is reserved too.
   */
  reserveWrite(key: string): void {
    if (this.kind === 'encrypted-file' && this.encrypted) this.encrypted.reserveWrite(key);
    else if (this.kind !== 'keychain' || this.requested !== 'keychain') this.file.reserveWrite(key);
  }

  releaseWrite(key: string): void {
    this.file.releaseWrite(key);
  }

  async prepareWrite(key: string): Promise<void> {
    if (this.kind === 'encrypted-file') await (await this.enc()).prepareWrite(key);
  }

  async delete(key: string): Promise<boolean> {
    let removed = false;
    if (this.kind === 'keychain') {
      try {
        removed = await (await this.keychain()).delete(key);
      } catch (e) {
        await this.keychainUnavailable(e, 'delete', key);
      }
    } else if (this.fallbackReason === undefined) {
      removed = await this.deleteFromKeychain(key);
    }
    return (await this.file.delete(key)) || removed;
  }
}
