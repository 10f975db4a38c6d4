import { KEYCHAIN_TIMEOUT_MS } from './layout.js';

/** A keychain call that did not answer in time. */
export class KeychainTimeout extends Error {}

/**
 * The one bound on keychain calls (store/keychain.ts and the `auth token` fast path): the
 * call gets a signal that aborts after `ms` (store/layout.ts keychainTimeoutMs), and the
 * promise rejects with KeychainTimeout then, whatever the call does.
 */
export async function withKeychainTimeout<T>(what: (signal: AbortSignal) => Promise<T>, ms = KEYCHAIN_TIMEOUT_MS): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new KeychainTimeout(`the keychain did not answer within ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([what(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
