import type { StorageKind } from '../config/config.js';
import type { Credential } from './credential.js';

/** One store interface for every backend (DESIGN §4). */
export interface TokenStore {
  readonly kind: StorageKind;
  /** Human description of where a profile's credential lives (for status and warnings). */
  describe(profile: string): string;
  get(profile: string): Promise<Credential | undefined>;
  set(profile: string, credential: Credential): Promise<void>;
  /** true when something was removed. */
  delete(profile: string): Promise<boolean>;
  /** A write is coming soon: prepare it off the critical path (see SecretVault.prepareWrite). */
  prepareWrite?(profile: string): void;
}
