import type { StorageKind } from '../config/names.js';
import type { Deps } from '../deps.js';
import { openVault } from './select.js';

/**
 * Client secrets (docs/design.md §4: "Client secrets given in the wizard go to the
 * keychain too; the config only names them"). They live in the same store as
 * the profile's credential — keychain service `authcli`, account
 * `<profile>:client-secret`; with the file stores `<profile>.client-secret`
 * next to `<profile>.json` — and move with it when `storage:` changes.
 */
export interface ClientSecretProfile {
  name: string;
  storage?: StorageKind;
}

const clientSecretKey = (profile: string) => `${profile}:client-secret`;

export async function storeClientSecret(profile: ClientSecretProfile, secret: string, deps: Deps): Promise<void> {
  const vault = await openVault(profile.storage, profile.name, deps);
  await vault.set(clientSecretKey(profile.name), secret);
}

/** undefined when no client secret is stored for the profile. */
export async function readClientSecret(profile: ClientSecretProfile, deps: Deps): Promise<string | undefined> {
  const vault = await openVault(profile.storage, profile.name, deps);
  return vault.get(clientSecretKey(profile.name));
}

/** true when a stored client secret was removed (from every store). */
export async function deleteClientSecret(profile: ClientSecretProfile, deps: Deps): Promise<boolean> {
  const vault = await openVault(profile.storage, profile.name, deps);
  return vault.delete(clientSecretKey(profile.name));
}

/** Where the profile's client secret is (or would be) stored, for status lines. */
export async function describeClientSecret(profile: ClientSecretProfile, deps: Deps): Promise<string> {
  const vault = await openVault(profile.storage, profile.name, deps);
  return vault.describe(clientSecretKey(profile.name));
}
