import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { join } from 'node:path';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { parseCredential, serializeCredential, type Credential } from './credential.js';
import { readPrivateFile, removeFile, writePrivateFileAtomic } from './fs-safe.js';
import type { TokenStore } from './token-store.js';

/**
 * `encrypted-file` store (DESIGN §4): AES-256-GCM under a key derived with
 * scrypt from AUTH_PASSPHRASE (or a prompted passphrase). Layout:
 *   "AUTHENC" | version (1 byte) | salt (16) | nonce (12) | ciphertext | tag (16)
 * with everything before the ciphertext authenticated as associated data.
 */
const MAGIC = Buffer.from('AUTHENC');
const VERSION = 1;
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export class EncryptedFileStore implements TokenStore {
  readonly kind = 'encrypted-file' as const;
  private passphrase: string | undefined;
  constructor(private readonly dir: string, private readonly deps: Deps) {}

  path(profile: string): string {
    return join(this.dir, `${profile}.json.enc`);
  }

  describe(profile: string): string {
    return `encrypted file ${this.path(profile)}`;
  }

  private async getPassphrase(): Promise<string> {
    if (this.passphrase) return this.passphrase;
    const fromEnv = this.deps.env.AUTH_PASSPHRASE;
    if (fromEnv) return (this.passphrase = fromEnv);
    if (!this.deps.io.stdinIsTTY || !this.deps.io.stderrIsTTY) {
      throw new AuthError('AUTH_NOT_LOGGED_IN', 'The encrypted credential store needs a passphrase.', {
        hint: 'Set AUTH_PASSPHRASE, or run the command in a terminal to be asked for it.',
      });
    }
    const { password } = await import('@inquirer/prompts');
    const answer = await password(
      { message: 'Passphrase for the encrypted credential store', mask: true },
      { input: this.deps.io.stdin, output: this.deps.io.stderr, signal: this.deps.signal },
    );
    if (!answer) throw new AuthError('AUTH_USAGE', 'An empty passphrase cannot protect the credential store.');
    return (this.passphrase = answer);
  }

  async get(profile: string): Promise<Credential | undefined> {
    const blob = readPrivateFile(this.path(profile));
    if (!blob) return undefined;
    const headerLength = MAGIC.length + 1 + 16 + 12;
    if (blob.length < headerLength + 16 || !blob.subarray(0, MAGIC.length).equals(MAGIC) || blob[MAGIC.length] !== VERSION) {
      throw new AuthError('AUTH_STORAGE', `${this.path(profile)} is not an encrypted credential file this version can read.`);
    }
    const header = blob.subarray(0, headerLength);
    const salt = header.subarray(MAGIC.length + 1, MAGIC.length + 17);
    const nonce = header.subarray(MAGIC.length + 17);
    const tag = blob.subarray(blob.length - 16);
    const key = scryptSync(await this.getPassphrase(), salt, 32, SCRYPT);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAAD(header);
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(blob.subarray(headerLength, blob.length - 16)), decipher.final()]);
    } catch {
      throw new AuthError('AUTH_NOT_LOGGED_IN', `Cannot decrypt ${this.path(profile)}: wrong passphrase, or the file was modified.`, {
        hint: 'Check AUTH_PASSPHRASE. The file was left untouched.',
      });
    }
    const cred = parseCredential(plain.toString('utf8'));
    if (!cred) throw new AuthError('AUTH_STORAGE', `The decrypted credential in ${this.path(profile)} is damaged.`);
    return cred;
  }

  async set(profile: string, credential: Credential): Promise<void> {
    const salt = randomBytes(16);
    const nonce = randomBytes(12);
    const header = Buffer.concat([MAGIC, Buffer.from([VERSION]), salt, nonce]);
    const key = scryptSync(await this.getPassphrase(), salt, 32, SCRYPT);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(serializeCredential(credential), 'utf8'), cipher.final()]);
    writePrivateFileAtomic(this.path(profile), Buffer.concat([header, body, cipher.getAuthTag()]));
  }

  async delete(profile: string): Promise<boolean> {
    return removeFile(this.path(profile));
  }
}
