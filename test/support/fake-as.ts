import { createHash, randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';

/**
 * A small scriptable authorization server for the NEGATIVE cases a real
 * provider will not produce (docs/security.md §0): tampered or `alg: none` ID
 * tokens, wrong `iss` in the redirect, scripted token-endpoint answers,
 * resets, redirects, 503s. Positive paths are tested against the real
 * oidc-provider sandbox (sandbox/provider.mjs); this is not a provider.
 *
 * Every secret it mints carries a marker (CODE_, AT_, RT_, IDT_ in the ID
 * token's jti, DC_) so "never appears in X" tests are plain greps. Every
 * request is recorded with a monotonic timestamp (performance.now()).
 */

interface RecordedRequest {
  /** performance.now() when the request's body had been read. */
  t: number;
  method: string;
  path: string;
  /** The raw request target, as sent. */
  target: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  /** The body parsed as application/x-www-form-urlencoded. */
  form: URLSearchParams;
}

/** What an endpoint answers; `body` objects are sent as JSON, strings as they are. */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Read the request, then destroy the connection without answering (RST). */
  reset?: boolean;
  /** Wait for this before answering (e.g. a gate the test opens). */
  delay?: Promise<unknown> | number;
  /** ID-token options for the default response of this one request. */
  idToken?: IdTokenOptions;
  /** Send the headers at once, then the body one byte every `trickleMs` (a stalled provider). */
  trickleMs?: number;
}

type IdTokenMode =
  | 'rs256' // correctly signed with the current key
  | 'none' // alg none, empty signature
  | 'hs256' // HMAC-signed with the client_id as the key
  | 'flip' // correctly signed, then one signature byte flipped
  | 'foreign-key' // signed by a key not in the JWKS, same kid
  | 'unknown-kid'; // signed by a key not in the JWKS with a kid the JWKS lacks

export interface IdTokenOptions {
  mode?: IdTokenMode;
  /** Claims to set; a value of `undefined` removes the claim. */
  claims?: Record<string, unknown>;
  /** Protected-header fields to set (e.g. kid). */
  header?: Record<string, unknown>;
}

export interface TokenContext {
  grantType: string;
  form: URLSearchParams;
  request: RecordedRequest;
  /** The response the fake would send unscripted (tokens minted, ID token signed). */
  defaultReply(idToken?: IdTokenOptions): Promise<Reply>;
}

type TokenScript = Reply | ((ctx: TokenContext) => Reply | Promise<Reply>);

interface AuthorizeContext {
  params: URLSearchParams;
  code: string;
  state: string | null;
  iss: string;
}

/** Query fields for the redirect back to the client; undefined drops a field, arrays repeat it. */
type AuthorizeQuery = Record<string, string | string[] | undefined>;

interface Authorization {
  params: URLSearchParams;
  code: string;
  redirectUri: string;
  /** The Location the fake answered with (undefined when the request was refused). */
  location?: string;
  /** request_uri when the request came through PAR. */
  requestUri?: string;
}

export interface FakeAsOptions {
  clientId?: string;
  /** Serve over HTTPS with this certificate and key (R03). */
  tls?: { cert: string; key: string };
  sub?: string;
  email?: string;
}

export interface FakeAs {
  issuer: string;
  base: string;
  port: number;
  clientId: string;
  /** Overrides merged into the discovery document; a value of `undefined` removes the field. */
  metadata: Record<string, unknown>;
  /**
   * Consumed one per discovery request (e.g. 503s, resets); when empty, the discovery document.
   * An entry with status 200 (or none), no body and no reset — e.g. `{ delay: 12_000 }` — answers
   * with the discovery document after its delay.
   */
  discoveryScript: Reply[];
  /** The discovery document as the fake would serve it now (for scripted replies). */
  discoveryDocument(): Record<string, unknown>;
  /**
   * Answers by exact request path, consulted before the built-in endpoints: e.g. a
   * discovery document behind a redirect, or under an issuer with a path.
   */
  routes: Record<string, (req: RecordedRequest) => Reply>;
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  requestsTo(path: string): RecordedRequest[];
  /** Resolves when `count` requests to `path` have been recorded. */
  waitForRequest(path: string, count?: number, timeoutMs?: number): Promise<RecordedRequest>;
  authorizations: Authorization[];
  /** Rewrites the redirect query (default: code, state, iss). */
  authorizeScript?: (ctx: AuthorizeContext) => AuthorizeQuery;
  /** Consumed one per /token request; when empty the default response is sent. */
  tokenScript: TokenScript[];
  /** Applied to every minted ID token unless a reply says otherwise. */
  idToken: IdTokenOptions;
  /** Consumed one per /revoke request; when empty, 200. */
  revokeScript: Reply[];
  /** Consumed one per /userinfo request; when empty, `{sub, email}` for a valid access token, else 401. */
  userinfoScript: Reply[];
  /** Seconds in `expires_in` of default token responses. */
  expiresIn: number;
  /** Replace the signing key with a new one (new kid); the JWKS then holds only the new key. */
  rotateKeys(): Promise<void>;
  /** Everything minted, for marker greps. */
  issued: { codes: string[]; accessTokens: string[]; refreshTokens: string[]; idTokens: string[]; deviceCodes: string[] };
  /** code_verifier values received and whether each matched its challenge. */
  verifiers: Array<{ verifier: string; challenge: string | undefined; matches: boolean }>;
  close(): Promise<void>;
}

const s256 = (v: string) => createHash('sha256').update(v).digest('base64url');

interface Key { kid: string; privateKey: CryptoKey; jwk: JWK }

/**
 * RSA key pairs cost ~200 ms of CPU each to generate, and every fake needs two (its own and a
 * foreign one): the fakes of one test file share two generated pairs, each fake under kids of
 * its own, so one fake's JWKS never names another's key. `rotateKeys` makes a genuinely new one.
 */
const shared: Array<Promise<{ privateKey: CryptoKey; jwk: JWK }>> = [];

async function generate(): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey) };
}

async function newKey(slot?: 0 | 1): Promise<Key> {
  const material = await (slot === undefined ? generate() : (shared[slot] ??= generate()));
  const kid = `kid-${randomUUID()}`;
  return { kid, privateKey: material.privateKey, jwk: { ...material.jwk, kid, alg: 'RS256', use: 'sig' } };
}

interface Grant { sub: string; email?: string; scope: string; nonce?: string; authTime: number; resources: string[] }

export async function startFakeAs(options: FakeAsOptions = {}): Promise<FakeAs> {
  const clientId = options.clientId ?? 'fake-cli';
  const sub = options.sub ?? 'user-1';
  const email = options.email ?? 'mallory@fake.example';
  let key = await newKey(0);
  const foreignKey = await newKey(1);
  const waiters = new Set<() => void>();
  const codes = new Map<string, { params: URLSearchParams; used: boolean; grant: Grant }>();
  const refreshTokens = new Map<string, Grant>();
  const accessTokens = new Set<string>();
  const par = new Map<string, URLSearchParams>();
  const sockets = new Set<Socket>();

  const fake = {
    metadata: {},
    discoveryScript: [],
    routes: {},
    requests: [],
    authorizations: [],
    tokenScript: [],
    idToken: {},
    revokeScript: [],
    userinfoScript: [],
    expiresIn: 3600,
    issued: { codes: [], accessTokens: [], refreshTokens: [], idTokens: [], deviceCodes: [] },
    verifiers: [],
    clientId,
  } as unknown as FakeAs;

  const discovery = (): Record<string, unknown> => {
    const base = fake.base;
    const doc: Record<string, unknown> = {
      issuer: fake.issuer,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      device_authorization_endpoint: `${base}/device_authorization`,
      revocation_endpoint: `${base}/revoke`,
      userinfo_endpoint: `${base}/userinfo`,
      jwks_uri: `${base}/jwks`,
      pushed_authorization_request_endpoint: `${base}/par`,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      code_challenge_methods_supported: ['S256'],
      id_token_signing_alg_values_supported: ['RS256'],
      token_endpoint_auth_methods_supported: ['none'],
      subject_types_supported: ['public'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      authorization_response_iss_parameter_supported: true,
    };
    for (const [k, v] of Object.entries(fake.metadata)) {
      if (v === undefined) delete doc[k];
      else doc[k] = v;
    }
    return doc;
  };

  const mintIdToken = async (grant: Grant, opts: IdTokenOptions, withNonce: boolean): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: fake.issuer,
      sub: grant.sub,
      aud: clientId,
      exp: now + 600,
      iat: now,
      auth_time: grant.authTime,
      email: grant.email ?? email,
      jti: `IDT_${randomUUID()}`,
    };
    if (withNonce && grant.nonce) claims.nonce = grant.nonce;
    for (const [k, v] of Object.entries(opts.claims ?? {})) {
      if (v === undefined) delete claims[k];
      else claims[k] = v;
    }
    const mode = opts.mode ?? 'rs256';
    let jwt: string;
    if (mode === 'none') {
      jwt = new UnsecuredJWT(claims).encode();
    } else if (mode === 'hs256') {
      jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: key.kid, ...opts.header }).sign(new TextEncoder().encode(clientId));
    } else {
      const signer = mode === 'foreign-key' || mode === 'unknown-kid' ? foreignKey : key;
      const kid = mode === 'foreign-key' ? key.kid : signer.kid;
      jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, ...opts.header }).sign(signer.privateKey);
      if (mode === 'flip') {
        const [h, p, sig] = jwt.split('.') as [string, string, string];
        const bytes = Buffer.from(sig, 'base64url');
        const i = bytes.length >> 1;
        bytes[i] = bytes[i]! ^ 0x01;
        jwt = `${h}.${p}.${bytes.toString('base64url')}`;
      }
    }
    fake.issued.idTokens.push(jwt);
    return jwt;
  };

  const mintTokens = async (grant: Grant, idOpts: IdTokenOptions, withNonce: boolean, rotate: boolean): Promise<Record<string, unknown>> => {
    const at = `AT_${randomUUID()}`;
    accessTokens.add(at);
    fake.issued.accessTokens.push(at);
    const body: Record<string, unknown> = { access_token: at, token_type: 'Bearer', expires_in: fake.expiresIn, scope: grant.scope };
    if (rotate && grant.scope.split(' ').includes('offline_access')) {
      const rt = `RT_${randomUUID()}`;
      refreshTokens.set(rt, grant);
      fake.issued.refreshTokens.push(rt);
      body.refresh_token = rt;
    }
    if (grant.scope.split(' ').includes('openid')) body.id_token = await mintIdToken(grant, idOpts, withNonce);
    return body;
  };

  const oauthError = (error: string, description?: string, status = 400): Reply => ({
    status,
    body: { error, ...(description ? { error_description: description } : {}) },
  });

  const defaultToken = async (req: RecordedRequest, idOpts: IdTokenOptions): Promise<Reply> => {
    const form = req.form;
    const grantType = form.get('grant_type') ?? '';
    if (form.get('client_id') !== clientId) return oauthError('invalid_client', 'unknown client', 401);
    if (grantType === 'authorization_code') {
      const code = form.get('code') ?? '';
      const entry = codes.get(code);
      if (!entry) return oauthError('invalid_grant', 'unknown code');
      if (entry.used) return oauthError('invalid_grant', 'code already used');
      entry.used = true;
      const verifier = form.get('code_verifier') ?? '';
      const challenge = entry.params.get('code_challenge') ?? undefined;
      const matches = challenge !== undefined && s256(verifier) === challenge;
      fake.verifiers.push({ verifier, challenge, matches });
      if (!matches) return oauthError('invalid_grant', 'PKCE verification failed');
      if (form.get('redirect_uri') !== entry.params.get('redirect_uri')) return oauthError('invalid_grant', 'redirect_uri mismatch');
      return { status: 200, body: await mintTokens(entry.grant, idOpts, true, true) };
    }
    if (grantType === 'refresh_token') {
      const rt = form.get('refresh_token') ?? '';
      const grant = refreshTokens.get(rt);
      if (!grant) return oauthError('invalid_grant', 'unknown refresh token');
      refreshTokens.delete(rt);
      return { status: 200, body: await mintTokens(grant, idOpts, false, true) };
    }
    if (grantType === 'urn:ietf:params:oauth:grant-type:device_code') {
      const grant: Grant = { sub, scope: 'openid offline_access', authTime: Math.floor(Date.now() / 1000), resources: [] };
      return { status: 200, body: await mintTokens(grant, idOpts, false, true) };
    }
    return oauthError('unsupported_grant_type');
  };

  const send = async (res: ServerResponse, reply: Reply): Promise<void> => {
    if (typeof reply.delay === 'number') await new Promise((r) => setTimeout(r, reply.delay as number));
    else if (reply.delay) await reply.delay;
    if (reply.reset) {
      if (res.socket?.resetAndDestroy) res.socket.resetAndDestroy();
      else res.socket?.destroy();
      return;
    }
    const isJson = reply.body !== undefined && typeof reply.body !== 'string';
    const headers: Record<string, string> = {
      'Cache-Control': 'no-store',
      ...(isJson ? { 'Content-Type': 'application/json' } : reply.body !== undefined ? { 'Content-Type': 'text/html' } : {}),
      ...reply.headers,
    };
    if (reply.trickleMs !== undefined) {
      const bytes = Buffer.from(reply.body === undefined ? '' : isJson ? JSON.stringify(reply.body) : String(reply.body));
      res.writeHead(reply.status ?? 200, headers);
      for (const byte of bytes) {
        // Stops once the client has given up (or the fake is closing).
        if (res.destroyed || res.socket?.destroyed) return;
        res.write(Buffer.of(byte));
        await new Promise((r) => setTimeout(r, reply.trickleMs));
      }
      res.end();
      return;
    }
    res.writeHead(reply.status ?? 200, headers);
    res.end(reply.body === undefined ? undefined : isJson ? JSON.stringify(reply.body) : String(reply.body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = req.url ?? '/';
    const url = new URL(target, fake.base);
    const rec: RecordedRequest = {
      t: performance.now(),
      method: req.method ?? 'GET',
      path: url.pathname,
      target,
      query: url.searchParams,
      headers: req.headers,
      body,
      form: new URLSearchParams(body),
    };
    fake.requests.push(rec);
    for (const w of [...waiters]) w();

    const route = Object.hasOwn(fake.routes, url.pathname) ? fake.routes[url.pathname] : undefined;
    if (route) return send(res, route(rec));
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
      case '/.well-known/oauth-authorization-server': {
        // A scripted 200 without a body (e.g. only a `delay`) carries the real discovery document.
        const script = fake.discoveryScript.shift();
        if (script && script.body === undefined && !script.reset && (script.status ?? 200) === 200) return send(res, { ...script, body: discovery() });
        return send(res, script ?? { body: discovery() });
      }
      case '/jwks':
        return send(res, { body: { keys: [key.jwk] } });
      case '/par': {
        const uri = `urn:ietf:params:oauth:request_uri:PAR_${randomUUID()}`;
        par.set(uri, rec.form);
        return send(res, { status: 201, body: { request_uri: uri, expires_in: 60 } });
      }
      case '/authorize': {
        let params = url.searchParams;
        const requestUri = params.get('request_uri') ?? undefined;
        if (requestUri) {
          const pushed = par.get(requestUri);
          par.delete(requestUri);
          if (!pushed) return send(res, { status: 400, body: 'unknown request_uri' });
          params = pushed;
        }
        const code = `CODE_${randomUUID()}`;
        fake.issued.codes.push(code);
        const redirectUri = params.get('redirect_uri') ?? '';
        const authorization: Authorization = { params, code, redirectUri, ...(requestUri ? { requestUri } : {}) };
        fake.authorizations.push(authorization);
        if (params.get('client_id') !== clientId || !redirectUri) return send(res, { status: 400, body: 'bad client or redirect_uri' });
        // The person signing in at the provider: the default user, or whoever the
        // request names in X-Fake-Account (another local user racing the victim).
        const account = req.headers['x-fake-account'];
        const grant: Grant = {
          sub: typeof account === 'string' ? account : sub,
          ...(typeof account === 'string' ? { email: `${account}@fake.example` } : {}),
          scope: params.get('scope') ?? '',
          authTime: Math.floor(Date.now() / 1000),
          resources: params.getAll('resource'),
          ...(params.get('nonce') ? { nonce: params.get('nonce')! } : {}),
        };
        codes.set(code, { params, used: false, grant });
        const state = params.get('state');
        let query: AuthorizeQuery = { code, state: state ?? undefined, iss: fake.issuer };
        if (fake.authorizeScript) query = fake.authorizeScript({ params, code, state, iss: fake.issuer });
        const location = new URL(redirectUri);
        for (const [k, v] of Object.entries(query)) {
          if (v === undefined) continue;
          for (const one of Array.isArray(v) ? v : [v]) location.searchParams.append(k, one);
        }
        authorization.location = location.href;
        return send(res, { status: 302, headers: { Location: location.href } });
      }
      case '/token': {
        const script = fake.tokenScript.shift();
        const ctx: TokenContext = {
          grantType: rec.form.get('grant_type') ?? '',
          form: rec.form,
          request: rec,
          defaultReply: (idOpts) => defaultToken(rec, idOpts ?? fake.idToken),
        };
        let reply: Reply;
        if (script === undefined) reply = await defaultToken(rec, fake.idToken);
        else if (typeof script === 'function') reply = await script(ctx);
        else if (script.body === undefined && !script.reset && (script.status ?? 200) === 200) {
          reply = { ...(await defaultToken(rec, script.idToken ?? fake.idToken)), ...(script.delay !== undefined ? { delay: script.delay } : {}) };
        } else reply = script;
        return send(res, reply);
      }
      case '/device_authorization': {
        const dc = `DC_${randomUUID()}`;
        fake.issued.deviceCodes.push(dc);
        return send(res, { body: { device_code: dc, user_code: 'WDJB-MJHT', verification_uri: `${fake.base}/device`, expires_in: 600, interval: 1 } });
      }
      case '/revoke':
        return send(res, fake.revokeScript.shift() ?? { status: 200 });
      case '/userinfo': {
        const script = fake.userinfoScript.shift();
        if (script) return send(res, script);
        const auth = req.headers.authorization ?? '';
        const at = auth.startsWith('Bearer ') ? auth.slice(7) : '';
        if (!accessTokens.has(at)) return send(res, { status: 401, headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
        return send(res, { body: { sub, email } });
      }
      default:
        return send(res, { status: 404, body: 'not found' });
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`fake AS error: ${(e as Error).message}`);
    });
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createHttpServer(onRequest);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  fake.port = port;
  fake.base = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  fake.issuer = fake.base;

  fake.discoveryDocument = discovery;
  fake.requestsTo = (path) => fake.requests.filter((r) => r.path === path);
  fake.waitForRequest = (path, count = 1, timeoutMs = 15_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hits = fake.requestsTo(path);
        if (hits.length >= count) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hits[count - 1]!);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`fake AS: timed out waiting for request ${count} to ${path}`));
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  fake.rotateKeys = async () => {
    key = await newKey();
  };
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return fake;
}
