// @ts-check
/**
 * In-process OpenID Connect / OAuth 2 authorization server for tests and `npm run demo`.
 *
 * Built on `oidc-provider` v9 (devDependency) and bound to 127.0.0.1 only. It keeps
 * oidc-provider's built-in development login & consent pages (`devInteractions`) and
 * adds what the real thing needs to be a meaningful test target for `auth`:
 *
 * - PKCE (S256) for the public native client `auth-cli`, loopback redirect URI with
 *   any port (`http://127.0.0.1/callback`, RFC 8252).
 * - Refresh tokens for `offline_access` even when the client sends no `prompt=consent`, rotated on every use
 *   (reuse of a rotated-out refresh token revokes the whole grant).
 * - Device authorization grant with an `interval` in the device authorization response
 *   and optional injected `slow_down` answers (oidc-provider produces neither).
 * - Revocation, introspection, userinfo, client credentials (`auth-service`), and
 *   resource indicators (JWT access tokens for `https://api.example.com/...`).
 * - Clock tolerance 0 (oidc-provider defaults to 15 s), and an in-memory store that is
 *   private to this sandbox and not capped at oidc-provider's default 1000 entries.
 *
 * Nothing here is production configuration.
 *
 * @module sandbox/provider
 */

import * as http from 'node:http';
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';
import { generateKeyPair, exportJWK } from 'jose';

/** Resource indicators under this prefix are accepted; tokens for them are JWTs. */
export const API_RESOURCE_PREFIX = 'https://api.example.com/';
/** The resource used in examples and as the service account's default audience. */
export const API_RESOURCE = 'https://api.example.com/';
/** Scope offered by every resource server under {@link API_RESOURCE_PREFIX}. */
export const API_SCOPE = 'api:read';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** One line shown above oidc-provider's devInteractions login form. */
export const LOGIN_HINT_TEXT = 'Sandbox provider: sign in with any username (try alice) and any password.';

/* ------------------------------------------------------------------------------------ */
/* Quiet mode: oidc-provider prints "oidc-provider WARNING/NOTICE: ..." lines through    */
/* console.warn / console.info (the NOTICE ones on stdout!) at import time, at Provider  */
/* construction and lazily when default helper functions are first used. While at least */
/* one quiet sandbox is open, lines with that prefix are dropped; nothing else is.       */
/* ------------------------------------------------------------------------------------ */

let quietCount = 0;
let consolePatched = false;
// eslint-disable-next-line no-control-regex
const OIDC_PROVIDER_NOISE = /^(?:\x1b\[[0-9;]*m)?oidc-provider (?:WARNING|NOTICE):/;

function patchConsole() {
  if (consolePatched) return;
  consolePatched = true;
  for (const method of /** @type {const} */ (['warn', 'info'])) {
    const original = console[method];
    console[method] = function filtered(...args) {
      if (quietCount > 0 && typeof args[0] === 'string' && OIDC_PROVIDER_NOISE.test(args[0])) return;
      return original.apply(this, args);
    };
  }
}

/** @type {Promise<Record<string, any>> | undefined} */
let sharedKeyPromise;
/** A private RS256 JWK (RSA 2048). */
async function generateSigningJwk() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  return exportJWK(privateKey);
}

/** @type {Promise<{ Provider: any, errors: any, MemoryAdapter: any, LRU: any }> | undefined} */
let modulesPromise;
/** Import oidc-provider lazily so its import-time runtime warning can be filtered. */
function loadModules() {
  modulesPromise ??= (async () => {
    // Specifiers in variables: oidc-provider ships no type declarations, and TypeScript
    // (strict, checking this file when tests import it) would reject literal imports.
    // The last two are internal modules (oidc-provider 9 has no "exports" map): each
    // sandbox gets its own store without the default adapter's 1000-entry cap.
    const specifiers = ['oidc-provider', 'oidc-provider/lib/adapters/memory_adapter.js', 'oidc-provider/lib/helpers/lru.js'];
    /** @type {any[]} */
    const [{ default: Provider, errors }, { default: MemoryAdapter }, { default: LRU }] = await Promise.all(
      specifiers.map((specifier) => import(specifier)),
    );
    return { Provider, errors, MemoryAdapter, LRU };
  })();
  return modulesPromise;
}

/* ------------------------------------------------------------------------------------ */

/**
 * @typedef {object} SandboxOptions
 * @property {number} [port=0] TCP port on 127.0.0.1 (0 = any free port).
 * @property {number} [accessTokenTTL=3600] Access token lifetime in seconds (opaque, JWT
 *   resource tokens and client-credentials tokens alike).
 * @property {number} [idTokenTTL=3600] ID token lifetime in seconds.
 * @property {number} [refreshTokenTTL=1209600] Refresh token lifetime in seconds (14 days).
 * @property {number} [deviceCodeTTL=600] Device code lifetime (`expires_in`) in seconds.
 * @property {boolean} [rotateRefreshToken=true] Issue a new refresh token on every refresh;
 *   presenting a rotated-out one then revokes the whole grant.
 * @property {number} [deviceInterval=5] `interval` added to the device authorization response.
 * @property {number} [slowDown=0] Answer the first N device-code token polls with
 *   HTTP 400 `{"error":"slow_down"}` without passing them to the provider.
 * @property {number} [clockTolerance=0] Provider clock tolerance in seconds.
 * @property {boolean} [conformIdTokenClaims=false] oidc-provider's `conformIdTokenClaims`.
 *   false (sandbox default) puts email/name claims into the ID token as most hosted IdPs do;
 *   true keeps them in userinfo only when an access token is issued.
 * @property {boolean} [quiet=true] Drop oidc-provider's "WARNING/NOTICE" console lines.
 * @property {boolean} [freshKey=false] Generate a new RS256 signing key for this sandbox.
 *   By default one key is generated per process and reused (saves ~100 ms per start);
 *   each sandbox still has its own `kid`, and tokens differ by `iss`.
 * @property {Array<Record<string, any>>} [clients] Extra client metadata objects, merged with the built-in
 *   clients (same `client_id` replaces the built-in one).
 * @property {{ key: string | Buffer, cert: string | Buffer }} [https] Serve over TLS with this key and
 *   certificate (which must name 127.0.0.1); the issuer is then `https://127.0.0.1:<port>`.
 */

/**
 * @typedef {object} SandboxEvent
 * @property {string} type Event name, e.g. `grant.success`, `grant.error`, `grant.revoked`,
 *   `refresh_token.consumed`, `revocation.success`, `device.poll`, `device.slow_down`,
 *   `http.request` (every request: `method`, `path`).
 * @property {number} at `Date.now()` when it happened.
 * @property {string} [grantType] Token endpoint `grant_type` (grant.* events).
 * @property {string} [clientId]
 * @property {string} [error] OAuth error code (…error events).
 * @property {string} [errorDescription]
 * @property {string} [grantId]
 * @property {string} [tokenType] `AccessToken` / `RefreshToken` (revocation.success).
 * @property {string} [method] HTTP method (http.request).
 * @property {string} [path] Request path (http.request).
 */

/**
 * @typedef {object} Sandbox
 * @property {string} issuer `http://127.0.0.1:<port>` (`https://` with the `https` option; no trailing slash).
 * @property {number} port
 * @property {string} clientId `auth-cli`, the public native client.
 * @property {{ clientId: string, clientSecret: string }} service Confidential client
 *   `auth-service` (client_secret_basic or client_secret_post; client_credentials grant).
 * @property {any} provider The oidc-provider `Provider` instance.
 * @property {SandboxEvent[]} events Everything recorded so far, oldest first (live array).
 * @property {(grantType: string) => number} grants Number of successful token grants of a
 *   `grant_type` (e.g. `'refresh_token'`, `'authorization_code'`, `DEVICE_CODE_GRANT`).
 * @property {() => number[]} polls Timestamps (ms) of device-code token polls, including
 *   the ones answered with an injected `slow_down`.
 * @property {(token: string) => Promise<Record<string, any>>} introspect RFC 7662 call as
 *   `auth-service`; resolves to the parsed JSON (`{ active: false }` for dead tokens).
 * @property {(accessToken: string) => Promise<{ status: number, body: any }>} userinfo
 *   GET userinfo with a Bearer header; body is parsed JSON when possible, else text.
 * @property {() => Promise<void>} close Close the server and every open socket.
 */

/**
 * Start an oidc-provider authorization server on 127.0.0.1.
 *
 * @param {SandboxOptions} [options]
 * @returns {Promise<Sandbox>}
 */
export async function startSandbox(options = {}) {
  const {
    port: requestedPort = 0,
    accessTokenTTL = 3600,
    idTokenTTL = 3600,
    refreshTokenTTL = 14 * 24 * 60 * 60,
    deviceCodeTTL = 600,
    rotateRefreshToken = true,
    deviceInterval = 5,
    slowDown = 0,
    clockTolerance = 0,
    conformIdTokenClaims = false,
    quiet = true,
    freshKey = false,
    clients: extraClients = [],
    https: tls = undefined,
  } = options;

  let quietHeld = false;
  if (quiet) {
    patchConsole();
    quietCount += 1;
    quietHeld = true;
  }
  const releaseQuiet = () => {
    if (quietHeld) {
      quietHeld = false;
      quietCount -= 1;
    }
  };

  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }) : http.createServer();
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(requestedPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve(undefined);
      });
    });
  } catch (err) {
    releaseQuiet();
    throw err;
  }
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const port = address.port;
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  try {
    const { Provider, errors, MemoryAdapter, LRU } = await loadModules();

    const signingJwk = {
      ...(await (freshKey ? generateSigningJwk() : (sharedKeyPromise ??= generateSigningJwk()))),
      kid: `sandbox-${randomBytes(6).toString('hex')}`,
      alg: 'RS256',
      use: 'sig',
    };

    const service = {
      clientId: 'auth-service',
      clientSecret: randomBytes(24).toString('base64url'),
    };

    /** @type {any[]} */
    const builtInClients = [
      {
        client_id: 'auth-cli',
        client_name: 'auth CLI (sandbox)',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
        response_types: ['code'],
      },
      {
        client_id: service.clientId,
        client_secret: service.clientSecret,
        client_name: 'auth service account (sandbox)',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ];
    const extraIds = new Set(extraClients.map((c) => c.client_id));
    const clients = [...builtInClients.filter((c) => !extraIds.has(c.client_id)), ...extraClients];

    /** @type {SandboxEvent[]} */
    const events = [];
    /** @type {number[]} */
    const pollTimes = [];
    let slowDownLeft = slowDown;

    const store = new LRU({ maxSize: 1_000_000 });

    const provider = new Provider(issuer, {
      adapter: (/** @type {string} */ model) => new MemoryAdapter(model, store, clockTolerance),
      clients,
      jwks: { keys: [signingJwk] },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      clockTolerance,
      conformIdTokenClaims,
      responseTypes: ['code', 'none'],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['name', 'preferred_username'],
      },
      async findAccount(/** @type {any} */ _ctx, /** @type {string} */ id) {
        return {
          accountId: id,
          async claims() {
            return {
              sub: id,
              email: `${id}@example.com`,
              email_verified: true,
              name: id.charAt(0).toUpperCase() + id.slice(1),
              preferred_username: id,
            };
          },
        };
      },
      pkce: {
        // S256 is the only method oidc-provider 9 supports at all.
        required: (/** @type {any} */ _ctx, /** @type {any} */ client) => client.clientAuthMethod === 'none',
      },
      // A refresh token whenever the client may use the refresh_token grant and the grant
      // carries offline_access. For the code flow this only works together with the
      // middleware below that adds prompt=consent: oidc-provider's checkScope strips
      // offline_access from every authorization request whose `prompt` lacks `consent`
      // (including requests with no prompt at all). Device-flow requests keep it as is.
      async issueRefreshToken(/** @type {any} */ _ctx, /** @type {any} */ client, /** @type {any} */ code) {
        return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
      },
      rotateRefreshToken: () => rotateRefreshToken,
      ttl: {
        AccessToken: (/** @type {any} */ _ctx, /** @type {any} */ token) => token.resourceServer?.accessTokenTTL ?? accessTokenTTL,
        ClientCredentials: (/** @type {any} */ _ctx, /** @type {any} */ token) => token.resourceServer?.accessTokenTTL ?? accessTokenTTL,
        AuthorizationCode: 60,
        IdToken: idTokenTTL,
        RefreshToken: refreshTokenTTL,
        DeviceCode: deviceCodeTTL,
        Grant: Math.max(refreshTokenTTL, 14 * 24 * 60 * 60),
        Session: 14 * 24 * 60 * 60,
        Interaction: 60 * 60,
      },
      features: {
        devInteractions: { enabled: true },
        deviceFlow: { enabled: true },
        revocation: { enabled: true },
        introspection: {
          enabled: true,
          // Same as oidc-provider's default: a public client may only introspect its own tokens.
          allowedPolicy: (/** @type {any} */ _ctx, /** @type {any} */ client, /** @type {any} */ token) => !(
            client.clientAuthMethod === 'none' && token.clientId !== client.clientId),
        },
        userinfo: { enabled: true },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          // Plain logins get opaque tokens. A client_credentials request that names no
          // resource but asks for `api:read` gets a token for the default API.
          defaultResource(/** @type {any} */ ctx, /** @type {any} */ _client, /** @type {any} */ oneOf) {
            if (oneOf) return oneOf;
            const params = ctx.oidc.params ?? {};
            if (
              params.grant_type === 'client_credentials'
              && typeof params.scope === 'string'
              && params.scope.split(' ').includes(API_SCOPE)
            ) {
              return API_RESOURCE;
            }
            return undefined;
          },
          useGrantedResource: () => true,
          getResourceServerInfo(/** @type {any} */ _ctx, /** @type {string} */ resourceIndicator) {
            if (!resourceIndicator.startsWith(API_RESOURCE_PREFIX)) {
              throw new errors.InvalidTarget(`only resources under ${API_RESOURCE_PREFIX} are served by this sandbox`);
            }
            return {
              scope: API_SCOPE,
              audience: resourceIndicator,
              accessTokenTTL,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            };
          },
        },
      },
    });

    /* ------------------------------- events ------------------------------- */

    /** @param {SandboxEvent} event */
    const record = (event) => { events.push(event); };
    /** @param {any} ctx */
    const grantTypeOf = (ctx) => {
      try { return ctx?.oidc?.params?.grant_type ?? undefined; } catch { return undefined; }
    };
    /** @param {any} ctx */
    const clientIdOf = (ctx) => {
      try { return ctx?.oidc?.client?.clientId ?? undefined; } catch { return undefined; }
    };

    provider.on('grant.success', (/** @type {any} */ ctx) => record({
      type: 'grant.success', at: Date.now(), grantType: grantTypeOf(ctx), clientId: clientIdOf(ctx),
    }));
    for (const type of [
      'grant.error', 'authorization.error', 'revocation.error', 'introspection.error',
      'userinfo.error', 'device_authorization.error', 'code_verification.error',
      'device_resume.error', 'discovery.error', 'jwks.error', 'end_session.error',
    ]) {
      provider.on(type, (/** @type {any} */ ctx, /** @type {any} */ err) => record({
        type,
        at: Date.now(),
        grantType: type === 'grant.error' ? grantTypeOf(ctx) : undefined,
        clientId: clientIdOf(ctx),
        error: err?.error ?? err?.name,
        errorDescription: err?.error_description ?? err?.message,
      }));
    }
    provider.on('server_error', (/** @type {any} */ ctx, /** @type {any} */ err) => record({
      type: 'server_error', at: Date.now(), error: 'server_error', errorDescription: String(err?.stack ?? err),
    }));
    provider.on('grant.revoked', (/** @type {any} */ ctx, /** @type {string} */ grantId) => record({
      type: 'grant.revoked', at: Date.now(), grantId, clientId: clientIdOf(ctx),
    }));
    for (const type of ['authorization.success', 'authorization.accepted', 'interaction.started',
      'interaction.ended', 'device_authorization.success', 'end_session.success']) {
      provider.on(type, (/** @type {any} */ ctx) => record({ type, at: Date.now(), clientId: clientIdOf(ctx) }));
    }
    for (const type of ['refresh_token.consumed', 'authorization_code.consumed', 'device_code.consumed',
      'refresh_token.destroyed', 'access_token.destroyed']) {
      provider.on(type, (/** @type {any} */ token) => record({
        type, at: Date.now(), grantId: token?.grantId, clientId: token?.clientId,
      }));
    }

    /* ----------------------------- middleware ----------------------------- */

    provider.use(async (/** @type {any} */ ctx, /** @type {() => Promise<void>} */ next) => {
      const path = ctx.path;
      record({ type: 'http.request', at: Date.now(), method: ctx.method, path });

      // Authorization requests (GET/POST /auth, PAR POST /request): keep offline_access.
      // oidc-provider strips `offline_access` from a code-flow request unless `prompt`
      // contains `consent` (OIDC Core §11), and no configuration option changes that. The
      // sandbox supplies `prompt=consent` itself; native clients get the consent page
      // anyway, so what the user sees does not change.
      if ((path === '/auth' || path === '/request') && (ctx.method === 'GET' || ctx.method === 'POST')) {
        if (ctx.method === 'GET') {
          const query = new URLSearchParams(ctx.querystring);
          if (addConsentForOfflineAccess(query)) {
            ctx.querystring = query.toString();
            record({ type: 'sandbox.offline_access_consent', at: Date.now() });
          }
        } else if (ctx.is('application/x-www-form-urlencoded')) {
          const form = new URLSearchParams(await readRawBody(ctx.req));
          if (addConsentForOfflineAccess(form)) {
            record({ type: 'sandbox.offline_access_consent', at: Date.now() });
          }
          // oidc-provider falls back to req.body when the stream was already consumed.
          ctx.req.body = form.toString();
        }
        await next();
        return;
      }

      // Token endpoint: peek at grant_type to count device polls / inject slow_down.
      if (ctx.method === 'POST' && path === '/token' && ctx.is('application/x-www-form-urlencoded')) {
        const raw = await readRawBody(ctx.req);
        ctx.req.body = raw;
        const params = new URLSearchParams(raw);
        if (params.get('grant_type') === DEVICE_CODE_GRANT) {
          const at = Date.now();
          pollTimes.push(at);
          record({ type: 'device.poll', at, grantType: DEVICE_CODE_GRANT });
          if (slowDownLeft > 0) {
            slowDownLeft -= 1;
            record({ type: 'device.slow_down', at, grantType: DEVICE_CODE_GRANT, error: 'slow_down' });
            ctx.status = 400;
            ctx.set('Cache-Control', 'no-store');
            ctx.body = { error: 'slow_down', error_description: 'sandbox: polling too fast, slow down' };
            return;
          }
        }
        await next();
        return;
      }

      await next();

      // RFC 8628 §3.2: add `interval`, which oidc-provider leaves out.
      if (ctx.method === 'POST' && path === '/device/auth' && ctx.status === 200
        && ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body)) {
        ctx.body = { ...ctx.body, interval: deviceInterval };
        return;
      }

      // oidc-provider 9 emits no revocation.success event; record one here.
      if (ctx.method === 'POST' && path === '/token/revocation' && ctx.status === 200) {
        let tokenType;
        try {
          const entities = ctx.oidc?.entities ?? {};
          tokenType = ['AccessToken', 'RefreshToken', 'ClientCredentials'].find((k) => entities[k]);
        } catch { /* no oidc context */ }
        record({ type: 'revocation.success', at: Date.now(), clientId: clientIdOf(ctx), tokenType });
        return;
      }

      // One hint line above devInteractions' login form.
      if (ctx.method === 'GET' && path.startsWith('/interaction/') && typeof ctx.body === 'string'
        && ctx.body.includes('name="login"')) {
        const hint = `<p class="sandbox-hint" style="text-align:center;color:#555">${escapeHtml(LOGIN_HINT_TEXT)}</p>\n      `;
        ctx.body = ctx.body.replace('<form', `${hint}<form`);
      }
    });

    server.on('request', provider.callback());

    /* ------------------------------ helpers ------------------------------- */

    const basic = `Basic ${Buffer.from(
      `${encodeURIComponent(service.clientId)}:${encodeURIComponent(service.clientSecret)}`,
    ).toString('base64')}`;

    let closed;
    return {
      issuer,
      port,
      clientId: 'auth-cli',
      service,
      provider,
      events,
      grants: (grantType) => events.filter((e) => e.type === 'grant.success' && e.grantType === grantType).length,
      polls: () => [...pollTimes],
      async introspect(token) {
        const res = await fetch(`${issuer}/token/introspection`, {
          method: 'POST',
          headers: {
            authorization: basic,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams({ token }).toString(),
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`introspection failed: HTTP ${res.status} ${text}`);
        return JSON.parse(text);
      },
      async userinfo(accessToken) {
        const res = await fetch(`${issuer}/me`, {
          headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
        });
        const text = await res.text();
        let body;
        try { body = JSON.parse(text); } catch { body = text; }
        return { status: res.status, body };
      },
      close() {
        closed ??= new Promise((resolve) => {
          server.close(() => {
            releaseQuiet();
            resolve(undefined);
          });
          server.closeAllConnections();
        });
        return closed;
      },
    };
  } catch (err) {
    releaseQuiet();
    server.closeAllConnections();
    server.close();
    throw err;
  }
}

/**
 * If an authorization request asks for `offline_access` with a `prompt` that lacks
 * `consent` (or no `prompt` at all), add `consent` so oidc-provider keeps the scope.
 * Requests with `prompt=none` or a request object are left alone.
 * @param {URLSearchParams} params modified in place
 * @returns {boolean} whether it changed anything
 */
function addConsentForOfflineAccess(params) {
  const scope = (params.get('scope') ?? '').split(' ');
  if (!scope.includes('offline_access')) return false;
  if (params.has('request') || params.has('request_uri')) return false;
  if (params.getAll('prompt').length > 1) return false; // oidc-provider rejects duplicates itself
  const prompt = (params.get('prompt') ?? '').split(' ').filter(Boolean);
  if (prompt.includes('consent') || prompt.includes('none')) return false;
  params.set('prompt', [...prompt, 'consent'].join(' '));
  return true;
}

/**
 * Read a request body completely (bounded to 64 KiB like oidc-provider's own parser).
 * @param {import('node:http').IncomingMessage} req
 * @returns {Promise<string>}
 */
async function readRawBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw Object.assign(new Error('request entity too large'), { status: 413, expose: true });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** @param {string} s */
function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export { DEVICE_CODE_GRANT };
