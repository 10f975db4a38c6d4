import { join } from 'node:path';
import { AuthError } from '../errors.js';
import { parseCredential, serializeCredential, type Credential } from './credential.js';
import { readPrivateFile, removeFile, writePrivateFileAtomic } from './fs-safe.js';
import type { TokenStore } from './token-store.js';

/** `file` store: <state>/credentials/<profile>.json, 0600 in a 0700 dir, atomic writes. */
export class FileStore implements TokenStore {
  readonly kind = 'file' as const;
  constructor(private readonly dir: string) {}

  path(profile: string): string {
    return join(this.dir, `${profile}.json`);
  }

  describe(profile: string): string {
    return `file ${this.path(profile)}`;
  }

  async get(profile: string): Promise<Credential | undefined> {
    return this.getSync(profile);
  }

  getSync(profile: string): Credential | undefined {
    const buf = readPrivateFile(this.path(profile));
    if (!buf) return undefined;
    const cred = parseCredential(buf.toString('utf8'));
    if (!cred) {
      throw new AuthError('AUTH_STORAGE', `The credential file ${this.path(profile)} is damaged and cannot be read.`, {
        hint: `Run \`auth logout -p ${profile} --no-revoke\` to remove it, then \`auth login -p ${profile}\`.`,
      });
    }
    return cred;
  }

  async set(profile: string, credential: Credential): Promise<void> {
    writePrivateFileAtomic(this.path(profile), serializeCredential(credential));
  }

  async delete(profile: string): Promise<boolean> {
    return removeFile(this.path(profile));
  }
}
