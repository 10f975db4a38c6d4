import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { ENCRYPTED_MAGIC, isEncryptedBlob, Reservations, storeFilePath } from './file.js';
import { readPrivateFile, removeFile, writePrivateFileAtomic } from './fs-safe.js';
import { VaultTokenStore, type SecretVault } from './vault.js';

/**
 * `encrypted-file` store (docs/design.md §4): AES-256-GCM under a key derived with
 * scrypt from AUTH_PASSPHRASE (or a passphrase asked on the terminal). File:
 *   "AUTHENC" | version (1 byte) | salt (16) | nonce (12) | ciphertext | tag (16)
 * A fresh salt and nonce on every write; the header is authenticated as
 * associated data, so changing any byte (version included) fails decryption.
 */
const VERSION = 1;
const SALT = 16;
const NONCE = 12;
const TAG = 16;
const HEADER = ENCRYPTED_MAGIC.length + 1 + SALT + NONCE;
// scrypt cost: N=2^15, r=8 (32 MiB, ~0.1 s) — OWASP's minimum for interactive use.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function deriveKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(passphrase.normalize('NFC'), salt, 32, SCRYPT, (e, key) => (e ? reject(e) : resolve(key))));
}

/** A fresh salt and the key scrypt derived from it: the slow half of a write, done ahead. */
interface PreparedKey {
  passphrase: string;
  salt: Buffer;
  key: Promise<Buffer>;
}

function prepareKey(passphrase: string): PreparedKey {
  const salt = randomBytes(SALT);
  const key = deriveKey(passphrase, salt);
  key.catch(() => undefined); // awaited (and its error seen) only if the write happens
  return { passphrase, salt, key };
}

async function encryptSecret(passphrase: string, plaintext: string, prepared?: PreparedKey): Promise<Buffer> {
  const { salt, key } = prepared?.passphrase === passphrase ? prepared : prepareKey(passphrase);
  const nonce = randomBytes(NONCE);
  const header = Buffer.concat([ENCRYPTED_MAGIC, Buffer.from([VERSION]), salt, nonce]);
  const cipher = createCipheriv('aes-256-gcm', await key, nonce);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

/** undefined when the passphrase is wrong or any byte of the blob was changed (GCM cannot tell which). */
async function decryptSecret(passphrase: string, blob: Buffer): Promise<string | undefined> {
  const header = blob.subarray(0, HEADER);
  const salt = header.subarray(ENCRYPTED_MAGIC.length + 1, ENCRYPTED_MAGIC.length + 1 + SALT);
  const nonce = header.subarray(ENCRYPTED_MAGIC.length + 1 + SALT);
  try {
    const decipher = createDecipheriv('aes-256-gcm', await deriveKey(passphrase, salt), nonce);
    decipher.setAAD(header);
    decipher.setAuthTag(blob.subarray(blob.length - TAG));
    return Buffer.concat([decipher.update(blob.subarray(HEADER, blob.length - TAG)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}


function wrongPassphrase(file: string, key: string): AuthError {
  const profile = key.split(':')[0]!;
  // Exit 1, not 4: the credential is there, it just cannot be read (docs/storage.md); nothing may delete it.
  return new AuthError('AUTH_STORAGE', `Cannot decrypt ${file}: the passphrase is wrong, or the file was modified.`, {
    hint: `Check AUTH_PASSPHRASE and try again; the file was left untouched. If the passphrase is lost, \`auth logout -p ${profile} --force\` removes the file (nothing is revoked).`,
  });
}

export class EncryptedFileVault implements SecretVault {
  readonly kind = 'encrypted-file' as const;
  /** Salt and key for the next write, derived while a refresh is on the wire (reserveWrite). */
  private prepared: PreparedKey | undefined;
  /** `pathOf`: where a key's file is, when not `<dir>/<profile>.json` (store/secrets.ts keeps its own layout). */
  constructor(
    private readonly dir: string,
    private readonly deps: Deps,
    private readonly warn?: (message: string) => void,
    private readonly pathOf?: (key: string) => string,
    private readonly reservations = new Reservations(),
  ) {}

  path(key: string): string {
    return this.pathOf ? this.pathOf(key) : storeFilePath(this.dir, key);
  }

  describe(key: string): string {
    return `encrypted file ${this.path(key)}`;
  }

  private async passphrase(confirm: boolean): Promise<string> {
    // One passphrase per invocation: a command that reads the credential and the client secret asks once.
    const ctx = this.deps.storage;
    if (ctx.passphrase) return ctx.passphrase;
    const fromEnv = this.deps.env.AUTH_PASSPHRASE;
    if (fromEnv) return (ctx.passphrase = fromEnv);
    if (!this.deps.io.stdinIsTTY || !this.deps.io.stderrIsTTY) {
      throw new AuthError('AUTH_NOT_LOGGED_IN', 'The encrypted credential store needs a passphrase, and there is no terminal to ask for it.', {
        hint: 'Set AUTH_PASSPHRASE, or run the command in a terminal.',
      });
    }
    const ask = (message: string) => this.deps.prompter.secret(message);
    const answer = await ask(confirm ? 'New passphrase for the encrypted credential store' : 'Passphrase for the encrypted credential store');
    if (!answer) throw new AuthError('AUTH_USAGE', 'An empty passphrase cannot protect the credential store.');
    if (confirm && (await ask('Repeat the passphrase')) !== answer) {
      throw new AuthError('AUTH_USAGE', 'The passphrases did not match; nothing was stored.');
    }
    return (ctx.passphrase = answer);
  }

  async get(key: string): Promise<string | undefined> {
    const file = this.path(key);
    const blob = readPrivateFile(file, this.warn ? { private: true, warn: this.warn } : { private: true });
    // A plain-text file belongs to the `file` store: not ours to read.
    if (!blob || !isEncryptedBlob(blob)) return undefined;
    if (blob.length < HEADER + TAG || blob[ENCRYPTED_MAGIC.length] !== VERSION) {
      throw new AuthError('AUTH_STORAGE', `${file} is not an encrypted credential file this version of auth can read.`);
    }
    const plain = await decryptSecret(await this.passphrase(false), blob);
    if (plain === undefined) throw wrongPassphrase(file, key);
    this.deps.storage.decrypted.add(file);
    return plain;
  }

  /** The passphrase a write of `key` uses: confirmed when the file is new, checked when it exists. */
  private async writePassphrase(key: string, file: string): Promise<string> {
    const existing = readPrivateFile(file, { private: true });
    const encrypted = existing !== undefined && isEncryptedBlob(existing);
    const passphrase = await this.passphrase(!encrypted);
    // Never re-key an existing file under a passphrase that does not open it: a typo
    // in AUTH_PASSPHRASE would otherwise lock the user out of their other secrets.
    if (encrypted && !this.deps.storage.decrypted.has(file)) {
      if ((await decryptSecret(passphrase, existing)) === undefined) throw wrongPassphrase(file, key);
      this.deps.storage.decrypted.add(file);
    }
    return passphrase;
  }

  async prepareWrite(key: string): Promise<void> {
    await this.writePassphrase(key, this.path(key));
  }

  async set(key: string, value: string): Promise<void> {
    const file = this.path(key);
    const passphrase = await this.writePassphrase(key, file);
    // Each prepared salt is used for one write only (a fresh salt per write).
    const prepared = this.prepared;
    this.prepared = undefined;
    const blob = await encryptSecret(passphrase, value, prepared);
    const reservation = this.reservations.take(file);
    writePrivateFileAtomic(file, blob, { ...(this.warn ? { warn: this.warn } : {}), ...(reservation ? { reservation } : {}) });
    this.deps.storage.decrypted.add(file);
  }

  async delete(key: string): Promise<boolean> {
    return removeFile(this.path(key));
  }

  /**
   * Reserves the file's space, and starts scrypt for the next write (~0.1 s, on the thread
   * pool) so it runs while the refresh request is in flight; the write after the answer is
   * then AES-GCM and an fsync. Only with a passphrase already known: this never prompts.
   */
  reserveWrite(key: string): void {
    this.reservations.reserve(this.path(key), this.warn);
    const known = this.deps.storage.passphrase;
    if (known && !this.prepared) this.prepared = prepareKey(known);
  }

  releaseWrite(key: string): void {
    this.reservations.release(this.path(key));
  }
}

/** `encrypted-file` store: the same <state>/credentials/<profile>.json path, encrypted. */
export class EncryptedFileStore extends VaultTokenStore {
  declare readonly vault: EncryptedFileVault;
  constructor(dir: string, deps: Deps, warn?: (message: string) => void) {
    super(new EncryptedFileVault(dir, deps, warn));
  }

  path(profile: string): string {
    return this.vault.path(profile);
  }
}
