import { loadConfig, type Config } from '../config/config.js';
import { resolveProfile, type ProfileFlags, type ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import type { TokenStore } from '../store/token-store.js';
import { configIndexFile } from '../store/layout.js';

export interface ProfileContext {
  config: Config;
  profile: ResolvedProfile;
}

export function loadProfile(deps: Deps, flags: ProfileFlags): ProfileContext {
  const config = loadConfig(deps.paths.configFile, { indexFile: configIndexFile(deps.paths) });
  return { config, profile: resolveProfile(config, deps.env, flags) };
}

/** The profile must exist in config.yaml (commands that configure tools for it). */
export function requireConfigured(profile: ResolvedProfile): void {
  if (!profile.configured) {
    throw new AuthError('AUTH_USAGE', `There is no profile ${profile.name} yet.`, { hint: `Set it up first: \`auth setup\` or \`auth login -p ${profile.name} --issuer <url> --client-id <id>\`.` });
  }
}

export function storeFor(profile: ResolvedProfile, deps: Deps): Promise<TokenStore> {
  return deps.openStore(profile.storage, profile.name);
}

/**
 * The client secret: from the environment variable the profile names (never argv), else
 * the one stored with the profile's credentials (store/client-secret.ts: the wizard puts it
 * there and the config only names it).
 */
export async function clientSecretFor(profile: ResolvedProfile, deps: Deps): Promise<string | undefined> {
  if (!profile.clientSecretEnv) return undefined;
  const value = deps.env[profile.clientSecretEnv];
  if (value) return value;
  const { readClientSecret } = await import('../store/client-secret.js');
  const stored = await readClientSecret(profile, deps);
  if (stored) return stored;
  throw new AuthError('AUTH_USAGE', `The client secret variable ${profile.clientSecretEnv} is not set, and no client secret is stored for profile ${profile.name}.`, {
    hint: `Export ${profile.clientSecretEnv} with the client secret before running auth, or store it with \`auth setup\`.`,
  });
}
