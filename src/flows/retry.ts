import type { Deps } from '../deps.js';
import type { ServerFetch } from '../providers/server-fetch.js';

/**
 * Bounded retries for transient provider failures (docs/design.md §5), as openid-client's
 * customFetch. It sits under the preset quirk adapters, so it sees exactly what
 * goes over the wire. What may be sent again depends on what the request can
 * consume on the server:
 *
 * - GET/HEAD (discovery, JWKS, user info) change nothing: retried after HTTP
 *   502/503/504 and after transient network errors (reset, refused, socket
 *   timeouts). Not after 500: that is usually a fault that answers the same way
 *   again, and a retry would only delay the error. Not after a DNS "no such
 *   host" or a TLS failure either.
 * - A client_credentials grant at the token endpoint consumes nothing, so it is
 *   treated the same way — unless it carries a private_key_jwt assertion, whose
 *   jti a server may already have recorded (then only an unsent request is retried).
 * - Every other POST — above all the authorization_code, refresh_token and
 *   device_code grants (docs/security.md R32, R59), but also PAR, device authorization
 *   and revocation (which handles its own 503, R70) — is sent again only when the
 *   connection was refused: then the request provably never left (R59).
 *
 * At most MAX_RETRIES retries, BACKOFF_MS apart unless the answer carries a
 * Retry-After (seconds or an HTTP date, capped at RETRY_AFTER_CAP_MS). Nothing
 * is retried once the caller's signal has fired (openid-client's own timeout,
 * Ctrl-C through deps.signal), and every wait listens to both. A retried
 * answer's body is cancelled so its socket is freed. Each retry is one debug
 * line: method, URL without its query, status or error code, delay.
 */
const MAX_RETRIES = 2;
const BACKOFF_MS = [500, 1000] as const;
const RETRY_AFTER_CAP_MS = 5000;

const RETRY_STATUSES = new Set([502, 503, 504]);
/** Network failures worth another try for a request that may safely be repeated. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

/** 'repeatable': may be sent again after a 502/503/504 or a transient network error; 'unsent-only': only after ECONNREFUSED. */
type RetryPolicy = 'repeatable' | 'unsent-only';

export interface RetryOptions {
  /** The provider's token endpoint; a POST there is judged by its grant_type. Unknown (discovery): no POST is repeatable. */
  tokenEndpoint?: string | undefined;
}

type FetchInit = Parameters<ServerFetch>[1];

function retryPolicy(url: string, init: FetchInit, options: RetryOptions = {}): RetryPolicy {
  const method = (init.method ?? 'GET').toUpperCase();
  if (method === 'GET' || method === 'HEAD') return 'repeatable';
  if (method === 'POST' && options.tokenEndpoint && withoutQuery(url) === withoutQuery(options.tokenEndpoint)) {
    // A private_key_jwt assertion carries a jti the server may have recorded before it failed;
    // resending the same assertion could be refused as a replay (RFC 7523 §3), so only unsent retries.
    if (formField(init.body, 'grant_type') === 'client_credentials' && !formField(init.body, 'client_assertion')) return 'repeatable';
  }
  return 'unsent-only';
}

export function retryingFetch(next: ServerFetch, deps: Pick<Deps, 'log' | 'signal'>, options: RetryOptions = {}): ServerFetch {
  return async (url, init) => {
    // A body that cannot be read twice (a stream) is sent once.
    if (!resendable(init.body)) return next(url, init);
    const policy = retryPolicy(url, init, options);
    const method = (init.method ?? 'GET').toUpperCase();
    const signal = init.signal ? AbortSignal.any([init.signal, deps.signal]) : deps.signal;
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      let delay: number;
      try {
        const res = await next(url, init);
        if (!RETRY_STATUSES.has(res.status)) return res;
        if (policy !== 'repeatable') {
          if (attempt === 0) deps.log.debug(`not retrying ${method} ${withoutQuery(url)} after HTTP ${res.status} here: the provider may have received it`);
          return res;
        }
        if (attempt >= MAX_RETRIES || signal.aborted) return res;
        reason = `HTTP ${res.status}`;
        // Wall time, not deps.clock: an HTTP date is the server's real time (docs/architecture.md "Effects").
        delay = retryAfterMs(res.headers.get('retry-after'), Date.now()) ?? BACKOFF_MS[attempt]!;
        await res.body?.cancel().catch(() => undefined);
      } catch (e) {
        if (signal.aborted || attempt >= MAX_RETRIES) throw e;
        const code = networkErrorCode(e);
        const unsent = code === 'ECONNREFUSED';
        if (!code || !(unsent || (policy === 'repeatable' && TRANSIENT_CODES.has(code)))) {
          if (code && TRANSIENT_CODES.has(code) && attempt === 0) {
            deps.log.debug(`not retrying ${method} ${withoutQuery(url)} after ${code}: the request may have been sent`);
          }
          throw e;
        }
        reason = code;
        delay = BACKOFF_MS[attempt]!;
      }
      deps.log.debug(`retrying ${method} ${withoutQuery(url)} after ${reason} in ${delay} ms (retry ${attempt + 1} of ${MAX_RETRIES})`);
      await sleep(delay, signal);
    }
  };
}

/** Retry-After as milliseconds to wait (RFC 9110 §10.2.3: delay-seconds or an HTTP date), capped; undefined if absent or invalid. */
function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS);
}

/**
 * The code of a network failure as Node's fetch (undici) reports it: a
 * TypeError "fetch failed" whose cause carries the code — for a host with
 * several addresses an AggregateError, which counts as refused only when every
 * address refused.
 */
function networkErrorCode(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  type Coded = Error & { code?: unknown; errors?: unknown };
  const cause = (e as { cause?: unknown }).cause;
  const err: Coded = cause instanceof Error ? cause : e;
  if (Array.isArray(err.errors) && err.errors.length) {
    const codes = new Set(err.errors.map((x: { code?: unknown }) => (typeof x?.code === 'string' ? x.code : '')));
    if (codes.size === 1) return [...codes][0] || undefined;
    // Mixed: some address did not refuse, so the request may have gone out; report it as the first non-refusal.
    return [...codes].find((c) => c && c !== 'ECONNREFUSED') || undefined;
  }
  return typeof err.code === 'string' && /^(E[A-Z]+|UND_ERR_\w+)$/.test(err.code) ? err.code : undefined;
}

function formField(body: unknown, name: string): string | null | undefined {
  if (body instanceof URLSearchParams) return body.get(name);
  if (typeof body === 'string') return new URLSearchParams(body).get(name);
  return undefined;
}

function resendable(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof URLSearchParams
    || body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof Blob;
}

/** The URL for a log line: no query, fragment or userinfo (they may carry secrets). */
function withoutQuery(url: string): string {
  try {
    const u = new URL(url);
    u.search = '';
    u.hash = '';
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return '[unparseable URL]';
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts (Ctrl-C never waits out a backoff). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
