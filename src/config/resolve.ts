import { AuthError, usageError } from '../errors.js';
import type { Config, EndpointsConfig, MfaConfig, ProfileConfig } from './config.js';
import { previewArg } from '../ui/text.js';
import { PROFILE_NAME, STORAGES, type Flow, type StorageKind } from './names.js';

/** What the command line can say about a profile. Flags beat env beat file (docs/design.md §3). */
export interface ProfileFlags {
  profile?: string;
  issuer?: string;
  clientId?: string;
  clientSecretEnv?: string;
  scope?: string[];
  resource?: string[];
  port?: number;
  flow?: Flow;
}

export interface ResolvedProfile {
  name: string;
  /** true when config.yaml has this profile. */
  configured: boolean;
  provider?: string;
  issuer?: string;
  clientId?: string;
  clientSecretEnv?: string;
  scopes: string[];
  resources: string[];
  flow: Flow;
  /** undefined = not pinned (default keychain with file fallback). */
  storage?: StorageKind;
  redirect: { host: string; port: number; path: string };
  mfa: Required<MfaConfig>;
  endpoints?: EndpointsConfig;
  privateKeyFile?: string;
}

export const DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

export function profileName(config: Config, env: NodeJS.ProcessEnv, flag?: string): string {
  const name = flag || env.AUTH_PROFILE || config.active || 'default';
  if (!PROFILE_NAME.test(name)) throw usageError(`Invalid profile name "${previewArg(name)}": use letters, digits, ".", "_" and "-" (at most 64).`);
  return name;
}

const split = (s: string | undefined) => (s ? s.split(/[\s,]+/).filter(Boolean) : undefined);

export function resolveProfile(config: Config, env: NodeJS.ProcessEnv, flags: ProfileFlags = {}): ResolvedProfile {
  const name = profileName(config, env, flags.profile);
  const file: ProfileConfig = config.profiles[name] ?? {};
  const envStorage = env.AUTH_STORAGE;
  if (envStorage && !STORAGES.includes(envStorage as StorageKind)) {
    throw usageError(`AUTH_STORAGE must be one of ${STORAGES.join(', ')} (got "${envStorage}").`);
  }
  const issuer = flags.issuer ?? (env.AUTH_ISSUER || undefined) ?? file.issuer;
  const resolved: ResolvedProfile = {
    name,
    configured: name in config.profiles,
    scopes: flags.scope?.length ? flags.scope.flatMap((s) => split(s) ?? []) : split(env.AUTH_SCOPES) ?? file.scopes ?? DEFAULT_SCOPES,
    resources: flags.resource?.length ? flags.resource : file.resources ?? [],
    flow: flags.flow ?? file.flow ?? 'auto',
    redirect: {
      host: file.redirect?.host ?? '127.0.0.1',
      port: flags.port ?? file.redirect?.port ?? 0,
      path: file.redirect?.path ?? '/callback',
    },
    mfa: { required: file.mfa?.required ?? false, unlockMinutes: file.mfa?.unlockMinutes ?? 15 },
  };
  const storage = (envStorage as StorageKind | undefined) || file.storage;
  if (storage) resolved.storage = storage;
  if (issuer) resolved.issuer = checkIssuer(issuer);
  const clientId = flags.clientId ?? (env.AUTH_CLIENT_ID || undefined) ?? file.clientId;
  if (clientId) resolved.clientId = clientId;
  const secretEnv = flags.clientSecretEnv ?? file.clientSecretEnv;
  if (secretEnv) resolved.clientSecretEnv = secretEnv;
  if (file.provider) resolved.provider = file.provider;
  if (file.endpoints) resolved.endpoints = file.endpoints;
  if (file.privateKeyFile) resolved.privateKeyFile = file.privateKeyFile;
  for (const r of resolved.resources) checkResource(r);
  return resolved;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * docs/design.md §3 / docs/security.md R02: issuers are https; plain http only for loopback
 * hosts (local test servers). No query or fragment (RFC 8414 §2).
 */
function checkIssuer(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usageError(`The issuer "${value}" is not a valid URL.`, 'Pass the full issuer URL, for example --issuer https://login.example.com.');
  }
  if (url.protocol !== 'https:' && !isLoopbackHttp(url)) {
    throw new AuthError('AUTH_INSECURE', `Refusing insecure issuer ${value}: issuers must use https:// (plain http is allowed only for 127.0.0.1, localhost and [::1]).`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw usageError(`The issuer ${value} must not contain a query, fragment or credentials.`);
  }
  return value;
}

/** RFC 8707 §2: an absolute URI without a fragment. */
export function checkResource(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usageError(`The resource "${value}" is not an absolute URI (RFC 8707 §2).`);
  }
  if (url.hash || value.includes('#')) throw usageError(`The resource "${value}" must not contain a fragment (RFC 8707 §2).`);
  return value;
}
