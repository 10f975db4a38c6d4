import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StorageKind } from '../config/config.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { FileStore } from './file.js';
import { readPrivateFile, writePrivateFileAtomic } from './fs-safe.js';
import type { TokenStore } from './token-store.js';

export interface StoreChoice {
  /** What the profile asked for (explicitly or by default). */
  requested: StorageKind;
  /** Whether the profile pinned it (config, AUTH_STORAGE or flag) rather than taking the default. */
  pinned: boolean;
}

/**
 * DESIGN §4: keychain by default; when the OS keychain is unavailable the file
 * store is used with a one-time warning naming the file — unless the profile
 * pinned `keychain`, which is then an error (exit 1).
 */
export async function openStore(kind: StorageKind | undefined, profile: string, deps: Deps): Promise<TokenStore> {
  const requested = kind ?? 'keychain';
  const file = new FileStore(deps.paths.credentialsDir);
  if (requested === 'file') return file;
  if (requested === 'encrypted-file') {
    const { EncryptedFileStore } = await import('./encrypted-file.js');
    return new EncryptedFileStore(deps.paths.credentialsDir, deps);
  }
  const { probeKeychain, KeychainStore } = await import('./keychain.js');
  const probe = await probeKeychain();
  if (probe.ok) return new KeychainStore();
  deps.log.debug(`keychain unavailable: ${probe.reason}`);
  if (kind === 'keychain') {
    throw new AuthError('AUTH_STORAGE', `The OS keychain is unavailable (${probe.reason}), and profile ${profile} pins storage: keychain.`, {
      hint: keychainHint(deps.platform) + ` Or choose another store: \`storage: file\` or \`storage: encrypted-file\` in the profile, or AUTH_STORAGE=file.`,
    });
  }
  const marker = join(deps.paths.stateDir, '.keychain-fallback-warned');
  if (!existsSync(marker) || !readPrivateFile(marker)?.toString().split('\n').includes(profile)) {
    deps.log.warn(`The OS keychain is unavailable (${probe.reason}); storing the credential for profile ${profile} in ${file.path(profile)} (readable only by you) instead.`);
    deps.log.info(`  ${keychainHint(deps.platform)}`);
    const seen = readPrivateFile(marker)?.toString() ?? '';
    writePrivateFileAtomic(marker, `${seen}${profile}\n`);
  }
  return file;
}

export function keychainHint(platform: NodeJS.Platform): string {
  return platform === 'linux'
    ? 'To use a keychain on Linux, run a Secret Service such as gnome-keyring (on a headless box: `dbus-run-session -- sh -c "echo <password> | gnome-keyring-daemon --unlock --components=secrets; exec $SHELL"`).'
    : 'Make sure the OS keychain is unlocked and reachable from this session.';
}
