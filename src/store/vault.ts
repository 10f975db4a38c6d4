import type { StorageKind } from '../config/names.js';
import { AuthError } from '../errors.js';
import { parseCredential, serializeCredential, type Credential } from '../domain/credential.js';
import type { TokenStore } from './token-store.js';

/**
 * One storage backend for secret strings, addressed by key: the credential of
 * profile `work` is key `work`, its client secret `work:client-secret` (":"
 * never occurs in a profile name). Every backend of docs/design.md §4 is a vault; the
 * credential store and the client-secret helpers are thin layers over them.
 */
export interface SecretVault {
  readonly kind: StorageKind;
  /** Where `key` lives, for status lines and warnings. */
  describe(key: string): string;
  /** undefined: this backend does not hold `key` (absent, or a file in the other file format). */
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** true when something was removed. */
  delete(key: string): Promise<boolean>;
  /**
   * A write of `key` is coming soon (a refresh is about to be sent). Reserve the
   * disk space it needs — a full disk must fail the refresh before the provider
   * rotates anything — and do any slow preparation now, so that the write after
   * the provider's answer is quick and the window in which a crash loses a
   * rotated refresh token stays small.
   */
  reserveWrite?(key: string): void;
  /** Gives back a reservation no write used. */
  releaseWrite?(key: string): void;
  /**
   * Asks now for anything a later write of `key` needs from the person (the encrypted store's
   * passphrase, confirmed for a new file, checked against an existing one), so a sign-in
   * never fails after the provider already issued the tokens.
   */
  prepareWrite?(key: string): Promise<void>;
}

export function credentialFromSecret(text: string, where: string, profile: string): Credential {
  const cred = parseCredential(text);
  if (!cred) {
    throw new AuthError('AUTH_STORAGE', `The stored credential in the ${where} is damaged and cannot be read.`, {
      hint: `Run \`auth logout -p ${profile} --force\` to remove it (nothing can be revoked), then \`auth login -p ${profile}\`.`,
    });
  }
  return cred;
}

/** A TokenStore over one vault (no fallback, no moving): what the store contract tests exercise. */
export class VaultTokenStore implements TokenStore {
  /** `changed`: called after every write or delete of a profile's credential (store/change-stamp.ts). */
  constructor(readonly vault: SecretVault, private readonly changed?: (profile: string) => void) {}
  get kind(): StorageKind {
    return this.vault.kind;
  }
  describe(profile: string): string {
    return this.vault.describe(profile);
  }
  async get(profile: string): Promise<Credential | undefined> {
    const text = await this.vault.get(profile);
    return text === undefined ? undefined : credentialFromSecret(text, this.vault.describe(profile), profile);
  }
  async set(profile: string, credential: Credential): Promise<void> {
    try {
      await this.vault.set(profile, serializeCredential(credential));
    } finally {
      this.changed?.(profile);
    }
  }
  async delete(profile: string): Promise<boolean> {
    try {
      return await this.vault.delete(profile);
    } finally {
      this.changed?.(profile);
    }
  }
  reserveWrite(profile: string): void {
    this.vault.reserveWrite?.(profile);
  }
  releaseWrite(profile: string): void {
    this.vault.releaseWrite?.(profile);
  }
  async prepareWrite(profile: string): Promise<void> {
    await this.vault.prepareWrite?.(profile);
  }
}
