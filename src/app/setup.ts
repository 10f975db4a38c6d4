import { updateConfig, type Config, type ProfileConfig } from '../config/config.js';
import type { Flow, StorageKind } from '../config/names.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { connectServer } from '../flows/server.js';
import type { Preset, PresetId } from '../providers/presets.js';
import { describeProfile, describeServer, issuerFor } from '../providers/resolve.js';

/** How the profile gets its client secret: none, typed now (stored), the one already stored, or a variable. */
export type SecretChoice = 'none' | 'store' | 'keep' | 'env';

/** What the `auth setup` wizard collected: turned into a profile by profileFromDraft. */
export interface SetupDraft {
  presetId: PresetId;
  values: Record<string, string>;
  clientId: string;
  secret: SecretChoice;
  secretEnv?: string;
  /** A secret typed in this run (goes to the credential store, never the config). */
  secretValue?: string;
  scopes: string[];
  resources: string[];
  flow: Flow;
  /** undefined: the default — the OS keychain, or a private file when there is none (docs/design.md §4). */
  storage: StorageKind | undefined;
  name: string;
}

/** The variable that names (and would override) a client secret stored for the profile (store/client-secret.ts). */
export const derivedSecretEnv = (profile: string) => `AUTH_CLIENT_SECRET_${profile.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** The profile a draft describes, on top of what `base` (the profile being edited) already had. */
export function profileFromDraft(draft: SetupDraft, preset: Preset, base: ProfileConfig | undefined): ProfileConfig {
  const next: ProfileConfig = { ...(base ?? {}) };
  next.provider = preset.id;
  next.issuer = issuerFor(preset, draft.values);
  next.clientId = draft.clientId;
  delete next.clientSecretEnv;
  if (draft.secret === 'env' && draft.secretEnv) next.clientSecretEnv = draft.secretEnv;
  // A stored secret is named in the config by the variable that would override it (store/client-secret.ts).
  if (draft.secret === 'store' || draft.secret === 'keep') next.clientSecretEnv = derivedSecretEnv(draft.name);
  next.scopes = draft.scopes;
  if (draft.resources.length) next.resources = draft.resources;
  else delete next.resources;
  next.flow = draft.flow;
  if (draft.storage) next.storage = draft.storage;
  else delete next.storage;
  if (!base?.redirect && (preset.redirect.port !== 0 || preset.redirect.path !== '/callback' || preset.redirect.host !== '127.0.0.1')) next.redirect = { ...preset.redirect };
  if (preset.id === 'oauth2') {
    const endpoints: NonNullable<ProfileConfig['endpoints']> = {};
    for (const key of ['authorization', 'token', 'deviceAuthorization', 'revocation', 'userinfo', 'jwks'] as const) {
      if (draft.values[key]) endpoints[key] = draft.values[key];
    }
    next.endpoints = endpoints;
  } else if (base?.endpoints && base.provider !== preset.id) {
    delete next.endpoints;
  }
  return next;
}

/** What checking a draft against its provider found. `fixable`: saving it anyway is allowed (the provider may come back). */
export type ProviderCheck =
  | { ok: true; issuer: string; fromProfile: boolean; device: boolean; revocation: boolean }
  | { ok: false; issuer?: string; reason: string; hint?: string; saveAnyway: boolean };

/**
 * docs/security.md R06: an issuer names one server. A draft whose issuer another profile
 * already uses with other endpoints or another provider (a custom OAuth 2 profile beside one
 * made by `auth login --issuer`, say) is refused before it is saved; undefined when it agrees.
 */
export function issuerConflict(draft: SetupDraft, preset: Preset, config: Config): AuthError | undefined {
  let issuer: string;
  let profile: ProfileConfig;
  try {
    issuer = issuerFor(preset, draft.values);
    profile = profileFromDraft(draft, preset, config.profiles[draft.name]);
  } catch {
    return undefined;
  }
  try {
    describeServer(issuer, { ...config, profiles: { ...config.profiles, [draft.name]: profile } });
    return undefined;
  } catch (e) {
    if (e instanceof AuthError && e.code === 'AUTH_CONFIG_INVALID') return e;
    throw e;
  }
}

/**
 * Whether the provider a draft names answers: its discovery document, or (for a provider
 * without discovery, or hand-given endpoints) the endpoints in the profile. `discovering`
 * is called before a network round trip, so the caller can show it is waiting.
 */
export async function checkProvider(draft: SetupDraft, preset: Preset, config: Config, base: ProfileConfig | undefined, deps: Deps, discovering: (issuer: string) => void): Promise<ProviderCheck> {
  let issuer: string;
  let profile: ProfileConfig;
  try {
    issuer = issuerFor(preset, draft.values);
    profile = profileFromDraft(draft, preset, base);
  } catch (e) {
    return { ok: false, reason: (e as Error).message, saveAnyway: false };
  }
  const conflict = issuerConflict(draft, preset, config);
  if (conflict) return { ok: false, issuer, reason: conflict.message, ...(conflict.hint ? { hint: conflict.hint } : {}), saveAnyway: false };
  const description = describeProfile({ ...profile, issuer });
  if (!description.metadata) discovering(issuer);
  try {
    const server = await connectServer({ issuer, clientId: draft.clientId, server: description }, deps);
    const m = server.serverMetadata();
    return { ok: true, issuer, fromProfile: Boolean(description.metadata), device: Boolean(m.device_authorization_endpoint), revocation: Boolean(m.revocation_endpoint) };
  } catch (e) {
    if (deps.signal.aborted) throw e;
    return { ok: false, issuer, reason: e instanceof Error ? e.message : 'unknown error', ...(e instanceof AuthError && e.hint ? { hint: e.hint } : {}), saveAnyway: true };
  }
}

/**
 * Saves the draft as its profile (a typed client secret goes to the credential store first),
 * optionally making it the active one. A draft whose issuer another profile uses differently
 * is refused (issuerConflict); nothing is saved then.
 */
export async function saveDraft(draft: SetupDraft, preset: Preset, config: Config, makeActive: boolean, deps: Deps): Promise<void> {
  const conflict = issuerConflict(draft, preset, config);
  if (conflict) throw conflict;
  if (draft.secret === 'store' && draft.secretValue) {
    const { storeClientSecret } = await import('../store/client-secret.js');
    await storeClientSecret({ name: draft.name, ...(draft.storage ? { storage: draft.storage } : {}) }, draft.secretValue, deps);
  }
  updateConfig(deps.paths.configFile, (c) => {
    c.profiles[draft.name] = profileFromDraft(draft, preset, c.profiles[draft.name]);
    if (makeActive) c.active = draft.name;
  });
}
