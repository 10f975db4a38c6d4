import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small server speaking GitHub's OAuth wire format (docs.github.com
 * "Authorizing OAuth apps"), for the quirks a standard provider never shows:
 * - /login/oauth/access_token and /login/device/code answer
 *   application/x-www-form-urlencoded unless the request says
 *   `Accept: application/json` (or always, with `formOnly`);
 * - every error comes back with HTTP 200 (`bad_verification_code`,
 *   `authorization_pending`, `slow_down` with a new `interval`, `access_denied`,
 *   `incorrect_client_credentials`, `bad_refresh_token`);
 * - granted scopes are comma-separated;
 * - the account is at REST /user (and /api/v3/user, as on Enterprise Server),
 *   with `login` and a numeric `id` and no `sub`;
 * - no discovery document, no revocation endpoint (404).
 * The authorize page approves at once and redirects to the loopback callback.
 * Secrets carry markers (gho_<uuid>, ghr_<uuid>) so tests can grep for them.
 */
export interface GitHubFixtureOptions {
  clientId?: string;
  clientSecret?: string;
  /** Answer form-encoded bodies even when JSON was asked for. */
  formOnly?: boolean;
  /** Polls answered `slow_down` (after the first pending one). */
  slowDowns?: number;
  /** The device code is approved after this many polls. */
  approveAfterPolls?: number;
  /** Device request denied by the user. */
  deny?: boolean;
  /** The code exchange fails with this GitHub error (HTTP 200). */
  tokenError?: string;
  /** Expiring user tokens (GitHub App opt-in): expires_in + refresh_token. */
  expiring?: boolean;
  interval?: number;
}

interface RecordedRequest {
  method: string;
  path: string;
  accept: string | undefined;
  authorization: string | undefined;
  body: Record<string, string>;
  /** Content type of our answer. */
  answered: string;
  at: number;
}

export interface GitHubFixture {
  url: string;
  clientId: string;
  clientSecret: string;
  requests: RecordedRequest[];
  tokens: Set<string>;
  options: GitHubFixtureOptions;
  close(): Promise<void>;
}

export async function startGitHubFixture(options: GitHubFixtureOptions = {}): Promise<GitHubFixture> {
  const clientId = options.clientId ?? 'Iv1.fixture';
  const clientSecret = options.clientSecret ?? `secret_${randomUUID()}`;
  const requests: RecordedRequest[] = [];
  const codes = new Map<string, { challenge: string | undefined; redirectUri: string; scope: string }>();
  const devices = new Map<string, { polls: number; scope: string }>();
  const tokens = new Set<string>();
  const refreshTokens = new Set<string>();
  let url = '';

  const issue = (scope: string) => {
    const accessToken = `gho_${randomUUID().replace(/-/g, '')}`;
    tokens.add(accessToken);
    const body: Record<string, string | number> = { access_token: accessToken, token_type: 'bearer', scope: scope.split(/\s+/).filter(Boolean).join(',') };
    if (options.expiring) {
      const refresh = `ghr_${randomUUID().replace(/-/g, '')}`;
      refreshTokens.add(refresh);
      body.expires_in = 28800;
      body.refresh_token = refresh;
      body.refresh_token_expires_in = 15897600;
    }
    return body;
  };

  const server = createServer(async (req, res) => {
    const target = new URL(req.url ?? '/', url);
    const raw = await readBody(req);
    const body = Object.fromEntries(new URLSearchParams(raw));
    const record: RecordedRequest = {
      method: req.method ?? 'GET', path: target.pathname, accept: req.headers.accept, authorization: req.headers.authorization,
      body, answered: '', at: Date.now(),
    };
    requests.push(record);
    const answer = (status: number, payload: Record<string, string | number>) => {
      const json = !options.formOnly && (req.headers.accept ?? '').includes('application/json');
      record.answered = json ? 'json' : 'form';
      const text = json ? JSON.stringify(payload) : new URLSearchParams(Object.entries(payload).map(([k, v]): [string, string] => [k, String(v)])).toString();
      res.writeHead(status, { 'content-type': json ? 'application/json; charset=utf-8' : 'application/x-www-form-urlencoded; charset=utf-8' });
      res.end(text);
    };
    // GitHub: errors with HTTP 200.
    const fail = (error: string, description: string, extra: Record<string, string | number> = {}) =>
      answer(200, { error, error_description: description, error_uri: 'https://docs.github.com/apps/troubleshooting', ...extra });

    if (req.method === 'GET' && target.pathname === '/login/oauth/authorize') {
      const redirectUri = target.searchParams.get('redirect_uri') ?? '';
      if (target.searchParams.get('client_id') !== clientId || !/^http:\/\/127\.0\.0\.1:\d+\/callback$/.test(redirectUri)) {
        res.writeHead(400).end('redirect_uri_mismatch');
        return;
      }
      const code = randomUUID().replace(/-/g, '').slice(0, 20);
      codes.set(code, { challenge: target.searchParams.get('code_challenge') ?? undefined, redirectUri, scope: target.searchParams.get('scope') ?? '' });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', target.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (req.method === 'POST' && target.pathname === '/login/device/code') {
      if (body.client_id !== clientId) return fail('incorrect_client_credentials', 'The client_id is not valid.');
      const deviceCode = `dc_${randomUUID()}`;
      devices.set(deviceCode, { polls: 0, scope: body.scope ?? '' });
      return answer(200, { device_code: deviceCode, user_code: 'WDJB-MJHT', verification_uri: `${url}/login/device`, expires_in: 900, interval: options.interval ?? 1 });
    }
    if (req.method === 'POST' && target.pathname === '/login/oauth/access_token') {
      if (body.client_id !== clientId) return fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
      if (body.grant_type === 'urn:ietf:params:oauth:grant-type:device_code') {
        const device = devices.get(body.device_code ?? '');
        if (!device) return fail('incorrect_device_code', 'The device_code provided is not valid.');
        device.polls += 1;
        if (options.deny) return fail('access_denied', 'The authorization request was denied.');
        const slowDowns = options.slowDowns ?? 0;
        if (device.polls === 1) return fail('authorization_pending', 'The authorization request is still pending.');
        if (device.polls <= 1 + slowDowns) return fail('slow_down', 'Too many requests have been made in the same timeframe.', { interval: (options.interval ?? 1) + 5 });
        if (device.polls < (options.approveAfterPolls ?? 2 + slowDowns)) return fail('authorization_pending', 'The authorization request is still pending.');
        devices.delete(body.device_code!);
        return answer(200, issue(device.scope));
      }
      if (body.grant_type === 'refresh_token') {
        if (body.client_secret !== clientSecret) return fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
        if (!refreshTokens.delete(body.refresh_token ?? '')) return fail('bad_refresh_token', 'The refresh token passed is incorrect or expired.');
        return answer(200, issue('read:user user:email'));
      }
      // GitHub's web flow: authorization_code, with the client secret in the body.
      if (body.client_secret !== clientSecret) return fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
      if (options.tokenError) return fail(options.tokenError, 'The code passed is incorrect or expired.');
      const grant = codes.get(body.code ?? '');
      codes.delete(body.code ?? '');
      if (!grant || grant.redirectUri !== body.redirect_uri) return fail('bad_verification_code', 'The code passed is incorrect or expired.');
      const verifier = body.code_verifier ?? '';
      if (grant.challenge && createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
        return fail('bad_verification_code', 'The code_verifier does not match the code_challenge.');
      }
      return answer(200, issue(grant.scope));
    }
    if (req.method === 'GET' && (target.pathname === '/user' || target.pathname === '/api/v3/user')) {
      const token = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      record.answered = 'json';
      if (!token || !tokens.has(token)) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ login: 'octocat', id: 583231, node_id: 'MDQ6VXNlcjU4MzIzMQ==', name: 'The Octocat', email: null, type: 'User' }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not Found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, clientId, clientSecret, requests, tokens, options,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (text += d));
    req.on('end', () => resolve(text));
  });
}
