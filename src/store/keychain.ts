import { AsyncEntry, findCredentialsAsync } from '@napi-rs/keyring';
import { AuthError } from '../errors.js';
import { parseCredential, serializeCredential, type Credential } from './credential.js';
import type { TokenStore } from './token-store.js';

export const KEYCHAIN_SERVICE = 'authcli';
const PROBE_TIMEOUT_MS = 2000;

/** First line of a keyring error; the native messages carry Rust backtraces. */
function reason(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!.trim();
}

async function withTimeout<T>(what: (signal: AbortSignal) => Promise<T>, ms: number): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`the keychain did not answer within ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([what(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether the OS keychain really persists secrets here. On Linux the probe is a
 * Secret Service search: it fails fast with no D-Bus session or no provider,
 * and it would not see a secret that landed in the (non-persistent) kernel
 * keyring, so that case counts as unavailable too (DESIGN §4).
 */
export async function probeKeychain(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await withTimeout((signal) => findCredentialsAsync(KEYCHAIN_SERVICE, null, signal), PROBE_TIMEOUT_MS);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: reason(e) };
  }
}

export class KeychainStore implements TokenStore {
  readonly kind = 'keychain' as const;
  constructor(private readonly service = KEYCHAIN_SERVICE) {}

  describe(profile: string): string {
    return `keychain (service ${this.service}, account ${profile})`;
  }

  private entry(profile: string): AsyncEntry {
    return new AsyncEntry(this.service, profile);
  }

  private fail(action: string, profile: string, e: unknown): AuthError {
    return new AuthError('AUTH_STORAGE', `Could not ${action} the credential for profile ${profile} in the OS keychain: ${reason(e)}.`);
  }

  async get(profile: string): Promise<Credential | undefined> {
    let text: string | undefined;
    try {
      text = await withTimeout((signal) => this.entry(profile).getPassword(signal), PROBE_TIMEOUT_MS);
    } catch (e) {
      throw this.fail('read', profile, e);
    }
    if (text === undefined || text === null) return undefined;
    const cred = parseCredential(text);
    if (!cred) throw new AuthError('AUTH_STORAGE', `The keychain entry for profile ${profile} is damaged.`, { hint: `Run \`auth logout -p ${profile} --no-revoke\`, then \`auth login -p ${profile}\`.` });
    return cred;
  }

  async set(profile: string, credential: Credential): Promise<void> {
    const text = serializeCredential(credential);
    try {
      await withTimeout((signal) => this.entry(profile).setPassword(text, signal), PROBE_TIMEOUT_MS);
      // Read back: a write can "succeed" into a backend that does not keep it.
      const back = await withTimeout((signal) => this.entry(profile).getPassword(signal), PROBE_TIMEOUT_MS);
      if (back !== text) throw new Error('the secret did not read back after writing');
    } catch (e) {
      throw this.fail('store', profile, e);
    }
  }

  async delete(profile: string): Promise<boolean> {
    try {
      const existed = (await withTimeout((signal) => this.entry(profile).getPassword(signal), PROBE_TIMEOUT_MS)) != null;
      if (!existed) return false;
      await withTimeout((signal) => this.entry(profile).deleteCredential(signal), PROBE_TIMEOUT_MS);
      // The async delete can report success when the keyring is unreachable: check by reading back.
      const after = await withTimeout((signal) => this.entry(profile).getPassword(signal), PROBE_TIMEOUT_MS);
      if (after != null) throw new Error('the entry is still there after deleting it');
      return true;
    } catch (e) {
      throw this.fail('remove', profile, e);
    }
  }
}
