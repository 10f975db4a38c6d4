/** Whether the OS keychain answers here; `noAnswer`: it is there but a call timed out. */
export type KeychainAvailability = { ok: true } | { ok: false; reason: string; noAnswer?: boolean };

/**
 * What the stores remember during one invocation: the passphrase typed once, the encrypted
 * files it opened, the keychain's verdict per session bus, whether the file-fallback warning
 * was said. One per Deps (system.ts builds it), never module state, so a process that serves
 * several invocations keeps them apart (docs/architecture.md "Where effects live").
 */
export class StorageContext {
  /** The encrypted store's passphrase, once read from AUTH_PASSPHRASE or asked. */
  passphrase: string | undefined;
  /** Encrypted files decrypted with that passphrase (a rewrite need not check it again). */
  readonly decrypted = new Set<string>();
  /** Keychain availability per session bus (store/keychain.ts probeKeychain). */
  readonly keychain = new Map<string, Promise<KeychainAvailability>>();
  /** The "keychain unavailable, saved in a file" warning was said. */
  fallbackWarned = false;
}
