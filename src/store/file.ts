import { join } from 'node:path';
import type { Credential } from '../domain/credential.js';
import { lstatSync } from 'node:fs';
import { readPrivateFile, releaseFileWrite, removeFile, reserveFileWrite, writePrivateFileAtomic, type PrivateFileOptions, type WriteReservation } from './fs-safe.js';
import { credentialFromSecret, VaultTokenStore, type SecretVault } from './vault.js';

/**
 * The first bytes of an `encrypted-file` store file. Both file stores use the
 * same path (docs/design.md §4 "the same file"); the content says which one wrote it.
 */
export const ENCRYPTED_MAGIC = Buffer.from('AUTHENC');

export function isEncryptedBlob(buf: Buffer): boolean {
  return buf.length >= ENCRYPTED_MAGIC.length && buf.subarray(0, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC);
}

/**
 * The file for a key: `<profile>.json` for a credential (docs/design.md §4),
 * `<profile>.client-secret` for `<profile>:client-secret`.
 */
export function storeFilePath(dir: string, key: string): string {
  const colon = key.indexOf(':');
  return colon < 0 ? join(dir, `${key}.json`) : join(dir, `${key.slice(0, colon)}.${key.slice(colon + 1)}`);
}

/**
 * Space to set aside before a refresh: a rotated credential is about the size of
 * the current one; four times that, and at least 64 KiB, leaves room for longer tokens.
 */
function reserveStoreWrite(file: string, warn?: (message: string) => void): WriteReservation {
  let size = 0;
  try { size = lstatSync(file).size; } catch { /* none yet */ }
  return reserveFileWrite(file, Math.max(64 * 1024, 4 * size), warn ? { warn } : {});
}

/**
 * The reservations a file vault made for its keys (one per key, used by the next write of
 * that key or given back): held by the vault, so nothing outlives the invocation that made it.
 */
export class Reservations {
  private readonly byFile = new Map<string, WriteReservation>();

  reserve(file: string, warn?: (message: string) => void): void {
    this.release(file);
    this.byFile.set(file, reserveStoreWrite(file, warn));
  }

  /** The reservation for the file's next write, handed over once. */
  take(file: string): WriteReservation | undefined {
    const r = this.byFile.get(file);
    this.byFile.delete(file);
    return r;
  }

  release(file: string): void {
    const r = this.take(file);
    if (r) releaseFileWrite(r);
  }
}

/** `file` vault: plain text, 0600 in a 0700 dir, atomic writes, no symlinks (docs/security.md R74–R77). */
export class FileVault implements SecretVault {
  readonly kind = 'file' as const;
  /** `reservations`: shared with the encrypted-file vault on the same files (store/select.ts). */
  constructor(readonly dir: string, private readonly warn?: (message: string) => void, private readonly reservations = new Reservations()) {}

  path(key: string): string {
    return storeFilePath(this.dir, key);
  }

  describe(key: string): string {
    return `file ${this.path(key)}`;
  }

  private opts(): PrivateFileOptions {
    return this.warn ? { private: true, warn: this.warn } : { private: true };
  }

  /** The raw bytes at the key's path, whichever file store wrote them. */
  read(key: string): Buffer | undefined {
    return readPrivateFile(this.path(key), this.opts());
  }

  getSync(key: string): string | undefined {
    const buf = this.read(key);
    // An encrypted file belongs to the encrypted-file store: not ours to read.
    if (!buf || isEncryptedBlob(buf)) return undefined;
    return buf.toString('utf8');
  }

  async get(key: string): Promise<string | undefined> {
    return this.getSync(key);
  }

  async set(key: string, value: string): Promise<void> {
    const file = this.path(key);
    const reservation = this.reservations.take(file);
    writePrivateFileAtomic(file, value, { ...(this.warn ? { warn: this.warn } : {}), ...(reservation ? { reservation } : {}) });
  }

  async delete(key: string): Promise<boolean> {
    return removeFile(this.path(key));
  }

  reserveWrite(key: string): void {
    this.reservations.reserve(this.path(key), this.warn);
  }

  releaseWrite(key: string): void {
    this.reservations.release(this.path(key));
  }
}

/** `file` store: <state>/credentials/<profile>.json. */
export class FileStore extends VaultTokenStore {
  declare readonly vault: FileVault;
  constructor(dir: string, warn?: (message: string) => void) {
    super(new FileVault(dir, warn));
  }

  path(profile: string): string {
    return this.vault.path(profile);
  }

  /** Synchronous read, for callers that want no promise machinery (the `auth token` fast path). */
  getSync(profile: string): Credential | undefined {
    const text = this.vault.getSync(profile);
    return text === undefined ? undefined : credentialFromSecret(text, this.vault.describe(profile), profile);
  }
}
