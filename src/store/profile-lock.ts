import type { Deps } from '../deps.js';
import type { Credential } from '../domain/credential.js';
import { acquireLock, type Lock } from './lock.js';
import type { TokenStore } from './token-store.js';

/** The per-profile lock every command that changes a profile's credential takes (docs/design.md §5). */
export function acquireProfileLock(profile: string, deps: Deps): Promise<Lock> {
  return acquireLock(deps.paths.locksDir, profile, {
    signal: deps.signal,
    // Said to a person at a terminal; a script's stderr stays quiet (debug line only).
    onWaiting: (pid) => {
      const line = `Waiting for another auth process${pid ? ` (pid ${pid})` : ''} that is using profile ${profile}…`;
      if (deps.io.stderrIsTTY) deps.log.info(line);
      else deps.log.debug(line);
    },
  });
}

/**
 * Stores a credential from a sign-in under the profile lock, so it never interleaves with
 * a refresh or a logout of the same profile in another process.
 */
export async function storeUnderLock(store: TokenStore, profile: string, cred: Credential, deps: Deps): Promise<void> {
  const lock = await acquireProfileLock(profile, deps);
  try {
    await store.set(profile, cred);
  } finally {
    lock.release();
  }
}
