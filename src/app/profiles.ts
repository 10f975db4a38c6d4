import { loadConfig, updateConfig, type Config } from '../config/config.js';
import { PROFILE_NAME } from '../config/names.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { previewArg } from '../ui/text.js';

/** One configured profile as `auth profiles` lists it (docs/design.md §2; the --json shape). */
export interface ProfileRow {
  name: string;
  active: boolean;
  provider: string | null;
  issuer: string | null;
  clientId: string | null;
  flow: string;
  storage: string;
}

/** The configured profiles and the active one (which may name no configured profile). */
export function listProfiles(deps: Deps): { active: string | undefined; activeConfigured: boolean; rows: ProfileRow[] } {
  const config = loadConfig(deps.paths.configFile);
  const active = config.active;
  const rows = Object.entries(config.profiles).map(([name, p]) => ({
    name,
    active: name === active,
    provider: p.provider ?? (p.endpoints ? 'oauth2' : p.issuer ? 'oidc' : null),
    issuer: p.issuer ?? null,
    clientId: p.clientId ?? null,
    flow: p.flow ?? 'auto',
    storage: p.storage ?? (deps.env.AUTH_STORAGE || 'keychain'),
  }));
  return { active, activeConfigured: active !== undefined && active in config.profiles, rows };
}

export function requireProfile(config: Config, name: string): void {
  if (!PROFILE_NAME.test(name)) throw new AuthError('AUTH_USAGE', `Invalid profile name "${previewArg(name)}": use letters, digits, ".", "_" and "-" (at most 64).`);
  if (!(name in config.profiles)) {
    const names = Object.keys(config.profiles);
    throw new AuthError('AUTH_USAGE', `There is no profile named ${name}.`, {
      hint: names.length ? `Profiles: ${names.join(', ')}. Create one with \`auth setup\`.` : 'Create one with `auth setup`.',
    });
  }
}

/** Makes `name` the active profile. */
export function useProfile(name: string, deps: Deps): void {
  updateConfig(deps.paths.configFile, (c) => {
    requireProfile(c, name);
    c.active = name;
  });
}
