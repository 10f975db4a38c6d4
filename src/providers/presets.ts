import type { Flow } from '../config/config.js';

/**
 * Provider presets (docs/design.md §2 `auth setup`, §8): data only — one entry per
 * provider, no flow code. A preset turns a few answers (tenant, domain, realm,
 * base URL) into an issuer, says whether the provider publishes OpenID
 * discovery, and lists the defaults a new profile starts from. Endpoint
 * templates are the server metadata each provider documents: for providers
 * without discovery (GitHub, custom OAuth 2) they ARE the metadata handed to
 * openid-client; for the others discovery at the issuer is the truth and the
 * templates are the documented expectation (tests, docs, the wizard's report).
 *
 * Templates use `{field}` placeholders: the preset's fields, `{issuer}`, and
 * the derived values a preset declares in `derive`.
 */

export type PresetId = 'github' | 'google' | 'entra' | 'gitlab' | 'okta' | 'auth0' | 'keycloak' | 'oidc' | 'oauth2';

type FieldKind =
  /** an https URL (http only for loopback test servers), no query or fragment */
  | 'url'
  /** a host name such as dev-123.okta.com (a pasted https:// prefix is dropped) */
  | 'host'
  /** an Entra tenant: GUID, verified domain, or common / organizations / consumers */
  | 'tenant'
  /** a single path segment (Keycloak realm, Okta authorization server id) */
  | 'segment';

export interface PresetField {
  name: string;
  message: string;
  kind: FieldKind;
  default?: string;
  /** May be left empty (then templates that need it are skipped). */
  optional?: boolean;
  /** A word the user types for "empty" when the field has a default (Okta's org authorization server). */
  emptyWord?: string;
  help?: string;
}

export interface EndpointTemplates {
  authorization: string;
  token: string;
  deviceAuthorization?: string;
  revocation?: string;
  userinfo?: string;
  jwks?: string;
}

type ClientSecretUse =
  /** public client: no secret */
  | 'none'
  /** the provider may issue one (confidential client); the wizard asks */
  | 'optional'
  /** the provider needs one for the code exchange even for an installed app (Google, GitHub's browser flow) */
  | 'required';

export interface Preset {
  id: PresetId;
  title: string;
  /** One line shown in the wizard's list. */
  summary: string;
  protocol: 'oidc' | 'oauth2';
  fields: PresetField[];
  /** Issuer templates, tried in order: the first whose fields are all filled in wins. */
  issuer: string[];
  /** true: openid-client discovers the metadata at the issuer; false: `endpoints` are the metadata. */
  discovery: boolean;
  endpoints: EndpointTemplates;
  /** Values derived from the fields (pure, no I/O), usable in templates. */
  derive?: (values: Record<string, string>) => Record<string, string>;
  /**
   * Entra ID's multi-tenant endpoints publish a discovery document whose issuer
   * is not the URL it was fetched from; the preset names the one issuer it vouches
   * for, so the R01 comparison stays exact for every other case.
   */
  discoveredIssuer?: (values: Record<string, string>) => string | undefined;
  scopes: string[];
  /** Scopes offered in the wizard's checklist besides the defaults. */
  optionalScopes: string[];
  flow: Flow;
  /** Set when the provider wants an exactly registered redirect URI (port included). */
  redirect: { host: string; port: number; path: string };
  clientSecret: ClientSecretUse;
  /** Why or when the provider wants a client secret (shown at the wizard's question). */
  secretHint?: string;
  /** The browser flow's code exchange needs the client secret although the device flow does not (GitHub). */
  browserNeedsSecret?: boolean;
  tokenEndpointAuth: 'client_secret_basic' | 'client_secret_post';
  /** RFC 7636 S256 support as the provider documents it. */
  pkce: boolean;
  /** Name of the wire-quirk adapter in providers/quirks/. */
  quirks?: 'github';
  /** Resource indicators (RFC 8707) make sense for this provider. */
  resources: boolean;
  /** Notes for the user (wizard summary, docs). */
  notes: string[];
  register: {
    /** Where the app is registered. */
    console: string;
    /** The client type to pick there. */
    clientType: string;
  };
}

/** The loopback redirect every provider that follows RFC 8252 §7.3 accepts (any port). */
const ANY_PORT = { host: '127.0.0.1', port: 0, path: '/callback' };
/** Providers that match redirect URIs exactly, port included, get one fixed port to register. */
const FIXED_REDIRECT_PORT = 8250;
const FIXED_PORT = { host: '127.0.0.1', port: FIXED_REDIRECT_PORT, path: '/callback' };

const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
/** A public native app on the fixed loopback port, with PKCE (docs/providers.md): what most presets register. */
/** Generic servers: any loopback port, a client secret if the registration has one, resource indicators allowed. */
const ANY_CLIENT_ANY_PORT = { flow: 'auto', redirect: ANY_PORT, clientSecret: 'optional', tokenEndpointAuth: 'client_secret_basic', pkce: true, resources: true } as const;
const PUBLIC_NATIVE_APP = { flow: 'auto', redirect: FIXED_PORT, clientSecret: 'none', pkce: true, resources: false } as const;

/** Well-known Entra ID tenant aliases (not tenant ids). */
export const ENTRA_ALIASES = ['common', 'organizations', 'consumers'] as const;
/** The tenant id of personal Microsoft accounts; /consumers/v2.0 discovery names it as issuer. */
export const ENTRA_MSA_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const ENTRA = 'https://login.microsoftonline.com';

export const PRESETS: readonly Preset[] = [
  {
    id: 'github',
    title: 'GitHub',
    summary: 'GitHub.com or GitHub Enterprise Server (OAuth app; no OpenID Connect)',
    protocol: 'oauth2',
    fields: [
      { name: 'baseUrl', message: 'GitHub URL', kind: 'url', default: 'https://github.com', help: 'https://github.com, or your GitHub Enterprise Server URL' },
    ],
    issuer: ['{baseUrl}'],
    discovery: false,
    // docs.github.com "Authorizing OAuth apps": web application flow and device flow.
    endpoints: {
      authorization: '{baseUrl}/login/oauth/authorize',
      token: '{baseUrl}/login/oauth/access_token',
      deviceAuthorization: '{baseUrl}/login/device/code',
      userinfo: '{apiUrl}/user',
    },
    // REST API root: api.github.com for GitHub.com, <host>/api/v3 for Enterprise Server.
    derive: ({ baseUrl }) => ({ apiUrl: baseUrl === 'https://github.com' ? 'https://api.github.com' : `${baseUrl}/api/v3` }),
    scopes: ['read:user', 'user:email'],
    optionalScopes: ['repo', 'read:org', 'gist', 'workflow'],
    // The device flow needs no client secret; the browser flow's code exchange does.
    flow: 'device',
    redirect: ANY_PORT,
    clientSecret: 'optional',
    secretHint: 'GitHub needs it for the browser flow, not for the device flow',
    browserNeedsSecret: true,
    tokenEndpointAuth: 'client_secret_post',
    pkce: true,
    quirks: 'github',
    resources: false,
    notes: [
      'GitHub is plain OAuth 2: no discovery, no ID token; the account comes from the REST /user endpoint.',
      'Tokens do not expire unless the app opts in to expiring user tokens (then a refresh token is issued).',
      'GitHub has no standard revocation endpoint: `auth logout` removes the token locally; revoke it under Settings → Applications.',
      'The device flow must be enabled in the app settings; the browser flow needs the client secret.',
    ],
    register: {
      console: 'https://github.com/settings/applications/new (GitHub → Settings → Developer settings → OAuth Apps → New OAuth App)',
      clientType: 'OAuth App with "Enable Device Flow" ticked',
    },
  },
  {
    id: 'google',
    title: 'Google',
    summary: 'Google accounts (installed-app OAuth client)',
    protocol: 'oidc',
    fields: [],
    issuer: ['https://accounts.google.com'],
    discovery: true,
    // https://accounts.google.com/.well-known/openid-configuration
    endpoints: {
      authorization: 'https://accounts.google.com/o/oauth2/v2/auth',
      token: 'https://oauth2.googleapis.com/token',
      deviceAuthorization: 'https://oauth2.googleapis.com/device/code',
      revocation: 'https://oauth2.googleapis.com/revoke',
      userinfo: 'https://openidconnect.googleapis.com/v1/userinfo',
      jwks: 'https://www.googleapis.com/oauth2/v3/certs',
    },
    // Google rejects offline_access; installed apps get a refresh token without it.
    scopes: ['openid', 'email', 'profile'],
    optionalScopes: ['https://www.googleapis.com/auth/cloud-platform'],
    // A "Desktop app" client cannot use the device flow (that needs a "TVs and Limited Input" client).
    flow: 'browser',
    redirect: ANY_PORT,
    clientSecret: 'required',
    secretHint: 'Google needs the secret of a Desktop-app client; Google does not treat it as confidential, auth still keeps it out of the config',
    tokenEndpointAuth: 'client_secret_post',
    pkce: true,
    resources: false,
    notes: [
      'A Desktop-app client has a client secret that Google documents as not confidential; it is still kept in the keychain.',
      'For the device flow (SSH, containers) create a separate "TVs and Limited Input devices" client.',
    ],
    register: {
      console: 'https://console.cloud.google.com/apis/credentials (Create credentials → OAuth client ID)',
      clientType: 'Desktop app',
    },
  },
  {
    id: 'entra',
    title: 'Microsoft Entra ID',
    summary: 'Microsoft Entra ID (Azure AD): a tenant, or common / organizations / consumers',
    protocol: 'oidc',
    fields: [
      { name: 'tenant', message: 'Tenant ID', kind: 'tenant', default: 'organizations', help: 'directory (tenant) id GUID, a verified domain, or common / organizations / consumers' },
    ],
    issuer: [`${ENTRA}/{tenant}/v2.0`],
    discovery: true,
    // https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration
    endpoints: {
      authorization: `${ENTRA}/{tenant}/oauth2/v2.0/authorize`,
      token: `${ENTRA}/{tenant}/oauth2/v2.0/token`,
      deviceAuthorization: `${ENTRA}/{tenant}/oauth2/v2.0/devicecode`,
      userinfo: 'https://graph.microsoft.com/oidc/userinfo',
      jwks: `${ENTRA}/{tenant}/discovery/v2.0/keys`,
    },
    discoveredIssuer: ({ tenant }) => {
      const t = (tenant ?? '').toLowerCase();
      if (t === 'common' || t === 'organizations') return `${ENTRA}/{tenantid}/v2.0`;
      if (t === 'consumers') return `${ENTRA}/${ENTRA_MSA_TENANT}/v2.0`;
      return undefined;
    },
    scopes: OIDC_SCOPES,
    optionalScopes: ['User.Read'],
    flow: 'auto',
    redirect: ANY_PORT,
    clientSecret: 'none',
    tokenEndpointAuth: 'client_secret_post',
    pkce: true,
    resources: false,
    notes: [
      'Entra ID has no revocation endpoint: `auth logout` removes tokens locally (revoke sessions in My Account).',
      'Turn on "Allow public client flows" in the app registration for the device flow.',
    ],
    register: {
      console: 'https://entra.microsoft.com → App registrations → New registration',
      clientType: 'Public client/native (mobile & desktop)',
    },
  },
  {
    id: 'gitlab',
    title: 'GitLab',
    summary: 'GitLab.com or a self-managed GitLab',
    protocol: 'oidc',
    fields: [
      { name: 'baseUrl', message: 'GitLab URL', kind: 'url', default: 'https://gitlab.com', help: 'https://gitlab.com, or your self-managed GitLab URL' },
    ],
    issuer: ['{baseUrl}'],
    discovery: true,
    // https://gitlab.com/.well-known/openid-configuration
    endpoints: {
      authorization: '{baseUrl}/oauth/authorize',
      token: '{baseUrl}/oauth/token',
      deviceAuthorization: '{baseUrl}/oauth/authorize_device',
      revocation: '{baseUrl}/oauth/revoke',
      userinfo: '{baseUrl}/oauth/userinfo',
      jwks: '{baseUrl}/oauth/discovery/keys',
    },
    // GitLab always issues refresh tokens and has no offline_access scope.
    scopes: ['openid', 'profile', 'email'],
    optionalScopes: ['read_user', 'read_api', 'api'],
    ...PUBLIC_NATIVE_APP,
    tokenEndpointAuth: 'client_secret_basic',
    notes: ['Untick "Confidential" when creating the application so it is a public client using PKCE.'],
    register: {
      console: '<GitLab URL>/-/user_settings/applications (User settings → Applications)',
      clientType: 'Application with "Confidential" unticked',
    },
  },
  {
    id: 'okta',
    title: 'Okta',
    summary: 'Okta (custom or org authorization server)',
    protocol: 'oidc',
    fields: [
      { name: 'domain', message: 'Okta domain', kind: 'host', help: 'for example dev-123456.okta.com' },
      { name: 'authServer', message: 'Authorization server id', kind: 'segment', default: 'default', optional: true, emptyWord: 'org', help: '"default", another custom server id, or "org" for the org authorization server' },
    ],
    issuer: ['https://{domain}/oauth2/{authServer}', 'https://{domain}'],
    discovery: true,
    // https://{domain}/oauth2/{authServer}/.well-known/openid-configuration
    // The org authorization server keeps its endpoints under /oauth2/v1 although its issuer has no path.
    endpoints: {
      authorization: 'https://{domain}/{oauthBase}/v1/authorize',
      token: 'https://{domain}/{oauthBase}/v1/token',
      deviceAuthorization: 'https://{domain}/{oauthBase}/v1/device/authorize',
      revocation: 'https://{domain}/{oauthBase}/v1/revoke',
      userinfo: 'https://{domain}/{oauthBase}/v1/userinfo',
      jwks: 'https://{domain}/{oauthBase}/v1/keys',
    },
    derive: ({ authServer }) => ({ oauthBase: authServer ? `oauth2/${authServer}` : 'oauth2' }),
    scopes: OIDC_SCOPES,
    optionalScopes: [],
    ...PUBLIC_NATIVE_APP,
    tokenEndpointAuth: 'client_secret_basic',
    notes: ['Enable the "Refresh Token" and "Device Authorization" grant types on the app for offline use and SSH logins.'],
    register: {
      console: 'Okta Admin Console → Applications → Create App Integration → OIDC',
      clientType: 'Native Application',
    },
  },
  {
    id: 'auth0',
    title: 'Auth0',
    summary: 'Auth0 tenant (or a custom domain)',
    protocol: 'oidc',
    fields: [
      { name: 'domain', message: 'Auth0 domain', kind: 'host', help: 'for example your-tenant.eu.auth0.com' },
    ],
    // Auth0's issuer ends with a slash.
    issuer: ['https://{domain}/'],
    discovery: true,
    // https://{domain}/.well-known/openid-configuration
    endpoints: {
      authorization: 'https://{domain}/authorize',
      token: 'https://{domain}/oauth/token',
      deviceAuthorization: 'https://{domain}/oauth/device/code',
      revocation: 'https://{domain}/oauth/revoke',
      userinfo: 'https://{domain}/userinfo',
      jwks: 'https://{domain}/.well-known/jwks.json',
    },
    scopes: OIDC_SCOPES,
    optionalScopes: [],
    ...PUBLIC_NATIVE_APP,
    tokenEndpointAuth: 'client_secret_post',
    notes: ['Enable "Device Code" and "Refresh Token" under the application\'s Advanced Settings → Grant Types.'],
    register: {
      console: 'Auth0 Dashboard → Applications → Create Application',
      clientType: 'Native',
    },
  },
  {
    id: 'keycloak',
    title: 'Keycloak',
    summary: 'Keycloak realm',
    protocol: 'oidc',
    fields: [
      { name: 'baseUrl', message: 'Keycloak URL', kind: 'url', help: 'for example https://sso.example.com (include /auth for Keycloak before version 17)' },
      { name: 'realm', message: 'Realm', kind: 'segment' },
    ],
    issuer: ['{baseUrl}/realms/{realm}'],
    discovery: true,
    // {baseUrl}/realms/{realm}/.well-known/openid-configuration
    endpoints: {
      authorization: '{issuer}/protocol/openid-connect/auth',
      token: '{issuer}/protocol/openid-connect/token',
      deviceAuthorization: '{issuer}/protocol/openid-connect/auth/device',
      revocation: '{issuer}/protocol/openid-connect/revoke',
      userinfo: '{issuer}/protocol/openid-connect/userinfo',
      jwks: '{issuer}/protocol/openid-connect/certs',
    },
    scopes: OIDC_SCOPES,
    optionalScopes: [],
    ...PUBLIC_NATIVE_APP,
    tokenEndpointAuth: 'client_secret_basic',
    notes: ['Set "Proof Key for Code Exchange Code Challenge Method" to S256 in the client\'s Advanced settings.'],
    register: {
      console: 'Keycloak Admin Console → <realm> → Clients → Create client',
      clientType: 'OpenID Connect, Client authentication off (public), Standard flow + OAuth 2.0 Device Authorization Grant on',
    },
  },
  {
    id: 'oidc',
    title: 'OpenID Connect',
    summary: 'any OpenID Connect provider, by its issuer URL',
    protocol: 'oidc',
    fields: [
      { name: 'issuer', message: 'Issuer URL', kind: 'url', help: 'exactly as the provider documents it' },
    ],
    issuer: ['{issuer}'],
    discovery: true,
    endpoints: {
      authorization: '{issuer}/authorize',
      token: '{issuer}/token',
    },
    scopes: OIDC_SCOPES,
    optionalScopes: [],
    ...ANY_CLIENT_ANY_PORT,
    notes: [],
    register: {
      console: "the provider's admin console",
      clientType: 'native / public client with PKCE',
    },
  },
  {
    id: 'oauth2',
    title: 'Custom OAuth 2',
    summary: 'any OAuth 2 server without discovery: you give the endpoints',
    protocol: 'oauth2',
    fields: [
      { name: 'authorization', message: 'Authorization endpoint', kind: 'url' },
      { name: 'token', message: 'Token endpoint', kind: 'url' },
      { name: 'deviceAuthorization', message: 'Device authorization endpoint (empty if none)', kind: 'url', optional: true },
      { name: 'revocation', message: 'Revocation endpoint (empty if none)', kind: 'url', optional: true },
      { name: 'userinfo', message: 'User info endpoint, for the account name (empty if none)', kind: 'url', optional: true },
      { name: 'issuer', message: 'Issuer identifier (names this server in the credential)', kind: 'url', help: 'defaults to the origin of the token endpoint' },
    ],
    issuer: ['{issuer}'],
    discovery: false,
    endpoints: {
      authorization: '{authorization}',
      token: '{token}',
      deviceAuthorization: '{deviceAuthorization}',
      revocation: '{revocation}',
      userinfo: '{userinfo}',
    },
    scopes: [],
    optionalScopes: [],
    ...ANY_CLIENT_ANY_PORT,
    notes: ['Without discovery auth cannot check the endpoints ahead of time; they must be https.'],
    register: {
      console: "the provider's admin console",
      clientType: 'public client with PKCE',
    },
  },
];

export function findPreset(id: string | undefined): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}
