import { loadConfig, updateConfig } from '../config/config.js';
import type { Deps } from '../deps.js';
import { AuthError, ExitCode } from '../errors.js';
import { findPreset } from '../providers/presets.js';
import { runLogout } from './logout.js';
import { listProfiles, requireProfile, useProfile } from '../app/profiles.js';

/**
 * `auth profiles` (docs/design.md §2): list (active marked), `use <name>`, and
 * `remove <name>`, which logs out first (revocation as `auth logout` does it).
 * The list is data, so it goes to stdout; messages go to stderr.
 */
export interface ProfilesOptions {
  json?: boolean;
}

export async function runProfilesList(opts: ProfilesOptions, deps: Deps): Promise<number> {
  const { active, activeConfigured, rows } = listProfiles(deps);
  if (opts.json) {
    deps.io.stdout.write(`${JSON.stringify({ active: active ?? null, profiles: rows })}\n`);
    return ExitCode.ok;
  }
  if (rows.length === 0) {
    deps.log.info('No profiles yet. Run `auth setup` to create one, or `auth login --issuer <url> --client-id <id>`.');
    return ExitCode.ok;
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const provider = findPreset(r.provider ?? undefined)?.title ?? r.provider ?? '';
    const what = [provider, r.issuer].filter(Boolean).join('  ');
    deps.io.stdout.write(`${r.active ? '*' : ' '} ${r.name.padEnd(width)}  ${what}\n`);
  }
  if (!activeConfigured) deps.log.info('No active profile: commands use "default". Pick one with `auth profiles use <name>`.');
  return ExitCode.ok;
}


export async function runProfilesUse(name: string, deps: Deps): Promise<number> {
  requireProfile(loadConfig(deps.paths.configFile), name);
  useProfile(name, deps);
  deps.log.success(`Active profile: ${name}`);
  return ExitCode.ok;
}

/**
 * Logs the profile out (revoking at the provider when it can), removes its
 * stored client secret, then deletes it from the config. A failed revocation is
 * reported as `auth logout` reports it (exit 1) but the profile is still removed.
 */
export async function runProfilesRemove(name: string, deps: Deps): Promise<number> {
  const config = loadConfig(deps.paths.configFile);
  requireProfile(config, name);
  // Removing a profile always works (docs/design.md §2): a credential that cannot be logged out is
  // reported, with where it stays, and the profile goes all the same.
  let logout: number;
  try {
    logout = await runLogout({ profile: name, revoke: true }, deps);
  } catch (e) {
    if (!(e instanceof AuthError) || e.code === 'AUTH_INTERRUPTED' || e.code === 'AUTH_MFA_LOCKED') throw e;
    deps.log.warn(`Could not log out of profile ${name}: ${e.message}`);
    deps.log.info(`  The stored credential was left where it is; the profile is removed from the config anyway.`);
    logout = ExitCode.failure;
  }
  const profile = config.profiles[name]!;
  try {
    const { deleteClientSecret } = await import('../store/client-secret.js');
    const storage = profile.storage ?? (deps.env.AUTH_STORAGE as typeof profile.storage);
    if (await deleteClientSecret({ name, ...(storage ? { storage } : {}) }, deps)) deps.log.info(`Removed the stored client secret of profile ${name}.`);
  } catch (e) {
    const { PinnedKeychainUnavailableError } = await import('../store/select.js');
    // The keychain being away was said above; a secret is only named when the profile has one.
    if (!(e instanceof PinnedKeychainUnavailableError)) deps.log.warn(`Could not remove the stored client secret of profile ${name} (${(e as Error).message}).`);
    else if (profile.clientSecretEnv) deps.log.warn(`The client secret of profile ${name}, if it is stored in the keychain, stays there (the keychain is unavailable here).`);
  }
  let wasActive = false;
  updateConfig(deps.paths.configFile, (c) => {
    delete c.profiles[name];
    if (c.active === name) {
      wasActive = true;
      delete c.active;
    }
  });
  deps.log.success(`Removed profile ${name}.`);
  const left = Object.keys(loadConfig(deps.paths.configFile).profiles);
  if (wasActive && left.length) deps.log.info(`It was the active profile; pick another with \`auth profiles use <name>\` (${left.join(', ')}).`);
  return logout;
}
