import type { StorageKind } from '../config/config.js';
import type { Credential } from '../domain/credential.js';

/** One store interface for every backend (docs/design.md §4). */
export interface TokenStore {
  readonly kind: StorageKind;
  /** Human description of where a profile's credential lives (for status and warnings). */
  describe(profile: string): string;
  get(profile: string): Promise<Credential | undefined>;
  set(profile: string, credential: Credential): Promise<void>;
  /** true when something was removed. */
  delete(profile: string): Promise<boolean>;
  /**
   * A write is coming (a refresh is about to be sent): set its disk space aside and do slow
   * preparation now; throws (nothing changed) when the disk is full. See SecretVault.reserveWrite.
   */
  reserveWrite?(profile: string): void;
  /** Gives back what reserveWrite set aside when no write followed. */
  releaseWrite?(profile: string): void;
  /** Asks now for what a later write needs from the person (see SecretVault.prepareWrite). */
  prepareWrite?(profile: string): Promise<void>;
}
