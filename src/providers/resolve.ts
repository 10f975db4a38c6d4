import type * as client from 'openid-client';
import type { Config, EndpointsConfig, ProfileConfig } from '../config/config.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import type { Account } from '../domain/credential.js';
import { accountFromClaims } from '../flows/tokens.js';
import { findPreset, PRESETS, type EndpointTemplates, type Preset } from './presets.js';
import { githubQuirks } from './quirks/github.js';
import type { ServerFetch } from './server-fetch.js';
import { sanitize } from '../ui/text.js';

/**
 * Profile → what connectServer needs to talk to the provider
 * (docs/architecture.md): discovery at the issuer, or explicit server metadata
 * for providers without discovery and for profiles that name their endpoints;
 * the issuer a preset vouches for when discovery answers with another one
 * (Entra ID multi-tenant); and the preset's wire-quirk adapter, a fetch
 * wrapper, so the flows never learn about a provider's oddities (docs/design.md §8).
 */
export interface ServerDescription {
  issuer: string;
  preset?: Preset;
  /** Explicit metadata: no discovery request is made. */
  metadata?: client.ServerMetadata;
  /** A discovered `issuer` other than the configured one that the preset vouches for (R01). */
  acceptIssuer?: string;
  tokenEndpointAuth: 'client_secret_basic' | 'client_secret_post';
  quirks?: Preset['quirks'];
}


const PLACEHOLDER = /\{([A-Za-z]+)\}/g;

/** Fills `{name}` placeholders; undefined when one of them has no (non-empty) value. */
function fillTemplate(template: string, vars: Record<string, string | undefined>): string | undefined {
  let missing = false;
  const out = template.replace(PLACEHOLDER, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined || v === '') missing = true;
    return v ?? '';
  });
  return missing ? undefined : out;
}

/** The preset's fields plus its derived values and the issuer: everything templates may use. */
function presetVars(preset: Preset, values: Record<string, string>): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== '') clean[k] = v;
  const vars = { ...clean, ...(preset.derive?.(clean) ?? {}) };
  const issuer = issuerFrom(preset, vars);
  return issuer ? { ...vars, issuer } : vars;
}

function issuerFrom(preset: Preset, vars: Record<string, string>): string | undefined {
  for (const t of preset.issuer) {
    const filled = fillTemplate(t, vars);
    if (filled) return filled;
  }
  return undefined;
}

/** The issuer a preset builds from the wizard's answers. */
export function issuerFor(preset: Preset, values: Record<string, string>): string {
  const issuer = presetVars(preset, values).issuer;
  if (!issuer) throw new AuthError('AUTH_USAGE', `The ${preset.title} preset needs ${preset.fields.filter((f) => !f.optional).map((f) => f.message.toLowerCase()).join(', ')}.`);
  return issuer;
}

/** The reverse, for re-running setup on a profile: which answers produced this issuer. */
export function valuesFromIssuer(preset: Preset, issuer: string): Record<string, string> | undefined {
  for (const t of preset.issuer) {
    const names: string[] = [];
    const pattern = t.split(PLACEHOLDER).map((part, i) => {
      if (i % 2 === 1) {
        names.push(part);
        // A base URL may have a path (/auth, a GitLab relative URL root); other fields are one segment.
        return part === 'baseUrl' || part === 'issuer' ? '(.+?)' : '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }).join('');
    const m = new RegExp(`^${pattern}$`).exec(issuer);
    if (m) return Object.fromEntries(names.map((n, i) => [n, m[i + 1]!]));
  }
  return undefined;
}

const ENDPOINT_KEYS: Array<[keyof EndpointTemplates, keyof client.ServerMetadata]> = [
  ['authorization', 'authorization_endpoint'],
  ['token', 'token_endpoint'],
  ['deviceAuthorization', 'device_authorization_endpoint'],
  ['revocation', 'revocation_endpoint'],
  ['userinfo', 'userinfo_endpoint'],
  ['jwks', 'jwks_uri'],
];

/**
 * The server metadata (RFC 8414 names) a preset yields for these answers: the
 * documented endpoints, with `overrides` (a profile's `endpoints`) winning.
 */
export function presetMetadata(preset: Preset | undefined, values: Record<string, string>, issuer: string, overrides: EndpointsConfig = {}): client.ServerMetadata {
  const vars = preset ? { ...presetVars(preset, values), issuer } : { issuer };
  const metadata: Record<string, unknown> = { issuer };
  for (const [key, field] of ENDPOINT_KEYS) {
    const value = overrides[key] ?? (preset?.endpoints[key] ? fillTemplate(preset.endpoints[key]!, vars) : undefined);
    if (value) metadata[field] = value;
  }
  metadata.response_types_supported = ['code'];
  const grants = ['authorization_code', 'refresh_token'];
  if (metadata.device_authorization_endpoint) grants.push('urn:ietf:params:oauth:grant-type:device_code');
  metadata.grant_types_supported = grants;
  if (!preset || preset.pkce) metadata.code_challenge_methods_supported = ['S256'];
  if (preset) metadata.token_endpoint_auth_methods_supported = ['none', preset.tokenEndpointAuth];
  return metadata as client.ServerMetadata;
}

type ProfileLike = Pick<ProfileConfig, 'provider' | 'endpoints'> & { issuer: string };

/** How to reach the provider of one profile. A profile with `endpoints` never uses discovery. */
export function describeProfile(profile: ProfileLike): ServerDescription {
  let preset: Preset | undefined;
  if (profile.provider) {
    preset = findPreset(profile.provider);
    if (!preset) {
      throw new AuthError('AUTH_CONFIG_INVALID', `Unknown provider "${profile.provider}" for issuer ${profile.issuer}.`, {
        hint: `Use one of ${PRESETS.map((p) => p.id).join(', ')}, or remove "provider" and give the issuer (or endpoints) directly; \`auth setup\` writes a valid profile.`,
      });
    }
  }
  const values = (preset && valuesFromIssuer(preset, profile.issuer)) ?? {};
  const description: ServerDescription = { issuer: profile.issuer, tokenEndpointAuth: preset?.tokenEndpointAuth ?? 'client_secret_basic' };
  if (preset) description.preset = preset;
  if (preset?.quirks) description.quirks = preset.quirks;
  const accept = preset?.discoveredIssuer?.(values);
  if (accept) description.acceptIssuer = accept;
  const explicit = profile.endpoints && Object.keys(profile.endpoints).length > 0;
  if (explicit || (preset && !preset.discovery)) {
    const metadata = presetMetadata(preset, values, profile.issuer, profile.endpoints ?? {});
    if (!metadata.authorization_endpoint || !metadata.token_endpoint) {
      throw new AuthError('AUTH_CONFIG_INVALID', `The profile for ${profile.issuer} names endpoints but not both the authorization and the token endpoint.`, {
        hint: 'Add endpoints.authorization and endpoints.token to the profile (or remove endpoints to use discovery); `auth setup` can do it.',
      });
    }
    description.metadata = metadata;
  }
  return description;
}

/**
 * The server behind an issuer, as configured. docs/security.md R06: an issuer string
 * names one server, so every profile that uses it must agree on its endpoints;
 * a second profile pointing the same issuer elsewhere is refused. An issuer no
 * profile describes falls back to a preset that owns it (GitHub.com, Google,
 * Entra ID), else plain discovery.
 */
export function describeServer(issuer: string, config: Config): ServerDescription {
  const described: Array<{ name: string; description: ServerDescription; ownEndpoints: boolean }> = [];
  const bare: string[] = [];
  for (const [name, profile] of Object.entries(config.profiles)) {
    if (profile.issuer !== issuer) continue;
    if (profile.provider || profile.endpoints) described.push({ name, description: describeProfile({ ...profile, issuer }), ownEndpoints: Boolean(profile.endpoints) });
    else bare.push(name);
  }
  const first = described[0];
  if (!first) return implicitDescription(issuer);
  const key = (d: ServerDescription) => JSON.stringify([d.metadata ?? null, d.quirks ?? null, d.acceptIssuer ?? null, d.tokenEndpointAuth]);
  const other = described.find((f) => key(f.description) !== key(first.description));
  if (other) throw disagree(issuer, first.name, other.name);
  // A profile that names neither a provider nor endpoints (made by `auth login --issuer`) shares a
  // preset's facts about the server (GitHub's endpoints and quirks), but never endpoints another
  // profile typed in for itself (custom OAuth 2): those may be partial or wrong for a server that
  // has discovery, and would quietly become this profile's.
  if (bare.length && first.ownEndpoints) throw disagree(issuer, first.name, bare[0]!);
  return first.description;
}

function disagree(issuer: string, a: string, b: string): AuthError {
  return new AuthError('AUTH_CONFIG_INVALID', `Profiles ${a} and ${b} use the same issuer ${issuer} with different endpoints or providers, so neither is trusted (docs/security.md R06).`, {
    hint: 'Give each server its own issuer identifier, or make the two profiles agree (`auth setup` edits a profile).',
  });
}

/** How an issuer no profile describes is reached: the preset that owns it, else plain discovery. */
function implicitDescription(issuer: string): ServerDescription {
  const owner = presetOwning(issuer);
  return owner ? describeProfile({ provider: owner.id, issuer }) : { issuer, tokenEndpointAuth: 'client_secret_basic' };
}

/**
 * A preset owns an issuer when its template pins the host (Google, Entra ID), or
 * when the issuer is what the preset's default answers produce (https://github.com).
 */
export function presetOwning(issuer: string): Preset | undefined {
  return PRESETS.find((preset) => {
    const values = valuesFromIssuer(preset, issuer);
    if (!values) return false;
    const fixedHost = preset.issuer.some((t) => /^https:\/\/[^{/]+(\/|$)/.test(t) && valuesFromIssuer({ ...preset, issuer: [t] }, issuer));
    const defaults = preset.fields.length > 0 && preset.fields.every((f) => f.default !== undefined && values[f.name] === f.default);
    return fixedHost || defaults;
  });
}

/**
 * docs/security.md R01: the discovered issuer must be exactly the configured one. The
 * only exception is the one a preset vouches for: Entra ID's /common and
 * /organizations documents say `https://login.microsoftonline.com/{tenantid}/v2.0`
 * (openid-client then checks each ID token's `iss` against its `tid`), and
 * /consumers names the personal-accounts tenant. openid-client itself waves
 * through any issuer on login.microsoftonline.com; this check does not.
 */
export function checkDiscoveredIssuer(configured: string, discovered: string, accept: string | undefined): void {
  if (discovered === configured || (accept !== undefined && discovered === accept)) return;
  throw new AuthError('AUTH_PROVIDER_ERROR', `Discovery at ${configured} returned metadata for a different issuer (${sanitize(discovered, 200)}), so it was not used.`, {
    hint: issuerMismatchHint(configured, discovered) ?? 'Check the issuer URL exactly as the provider documents it (including any trailing slash). For Entra ID use the tenant id (GUID), not a domain name.',
  });
}

/**
 * When the configured and the discovered issuer differ only by a trailing slash, the value to
 * use instead (R01 still compares exactly: the fix is the user's, and it is offered).
 */
export function issuerMismatchHint(configured: string, discovered: unknown): string | undefined {
  if (typeof discovered !== 'string' || discovered.replace(/\/+$/, '') !== configured.replace(/\/+$/, '')) return undefined;
  const value = sanitize(discovered, 200);
  return `The provider's issuer is ${value} (${discovered.endsWith('/') ? 'with' : 'without'} the trailing slash); use exactly that: \`auth login --issuer ${value}\`, or \`issuer: ${value}\` in config.yaml.`;
}

/** The preset's wire-quirk adapter around our fetch (identity when it has none). */
export function wrapFetch(description: ServerDescription, metadata: client.ServerMetadata, fetch: ServerFetch): ServerFetch {
  if (description.quirks === 'github') return githubQuirks(metadata, fetch);
  return fetch;
}

/**
 * The account from the provider's user info endpoint: for a plain OAuth 2
 * sign-in (no ID token; GitHub's REST /user, normalised by its quirk adapter),
 * or, with `expectedSubject`, the display fields an ID token left out — then
 * openid-client refuses an answer about another subject (OpenID Connect Core
 * §5.3.2). Best effort: a provider that refuses or fails just leaves the
 * account as it was.
 */
export async function accountFromUserinfo(config: client.Configuration, accessToken: string, deps: Pick<Deps, 'log'>, expectedSubject?: string): Promise<Account | undefined> {
  if (!config.serverMetadata().userinfo_endpoint) return undefined;
  const oc = await import('openid-client');
  try {
    const info = await oc.fetchUserInfo(config, accessToken, expectedSubject ?? oc.skipSubjectCheck);
    return accountFromClaims(info as Record<string, unknown>);
  } catch (e) {
    // Never the error's cause: it carries the response body (docs/security.md R85).
    const code = (e as { code?: unknown }).code;
    if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') deps.log.debug('user info names a different subject than the ID token; ignored');
    else deps.log.debug(`user info lookup failed (${(e as Error).name}); the account stays ${expectedSubject ? 'the subject' : 'unnamed'}`);
    return undefined;
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isTenantId = (value: string) => GUID.test(value);

/**
 * Entra ID: the tenant id behind a verified domain (contoso.com), read from the
 * domain's discovery document, so the profile pins the tenant's real issuer
 * (R01 then compares it exactly) instead of trusting whatever a domain maps to
 * at each sign-in.
 */
export async function lookupEntraTenantId(domain: string, deps: Pick<Deps, 'fetch' | 'signal'>): Promise<string | undefined> {
  const url = `https://login.microsoftonline.com/${encodeURIComponent(domain)}/v2.0/.well-known/openid-configuration`;
  const res = await deps.fetch(url, { redirect: 'manual', headers: { accept: 'application/json' }, signal: AbortSignal.any([deps.signal, AbortSignal.timeout(15_000)]) });
  if (res.status !== 200) return undefined;
  const body = (await res.json().catch(() => undefined)) as { issuer?: unknown } | undefined;
  const m = typeof body?.issuer === 'string' ? /^https:\/\/login\.microsoftonline\.com\/([0-9a-f-]{36})\/v2\.0$/i.exec(body.issuer) : null;
  return m && isTenantId(m[1]!) ? m[1]!.toLowerCase() : undefined;
}
