import { AuthError, type ErrorCode } from '../errors.js';

/**
 * Every request to a provider is bounded in time and size, headers and body
 * together: a provider that trickles its answer one byte at a time, or sends a
 * 100 MB "token", must end in an error rather than hang `auth token` (which may
 * hold the profile's refresh lock) or fill memory and the credential store.
 *
 * The body is read here, into memory, under the same deadline and a byte cap;
 * callers (openid-client, our quirk adapters) get a Response whose body is
 * already complete.
 */
const HTTP_TIMEOUT_MS = 30_000;
/** Token, discovery, JWKS, user info, device, revocation and PAR answers are all small JSON documents. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * TEST ONLY: AUTH_TEST_HTTP_TIMEOUT_MS (digits, milliseconds) shortens the
 * per-request deadline so tests of a stalled provider finish in seconds. Not a
 * user setting; the deadline is HTTP_TIMEOUT_MS otherwise.
 */
export function httpTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env.AUTH_TEST_HTTP_TIMEOUT_MS;
  if (raw !== undefined && /^\d{1,7}$/.test(raw) && Number(raw) > 0) return Number(raw);
  return HTTP_TIMEOUT_MS;
}

/**
 * The provider's answer broke one of the limits above. `what` completes a
 * sentence ("Refreshing the access token failed: <what>.", protocol-errors.ts).
 */
export class ProviderAnswerError extends AuthError {
  constructor(code: ErrorCode, readonly what: string, hint?: string) {
    super(code, `${what[0]!.toUpperCase()}${what.slice(1)}.`, hint === undefined ? {} : { hint });
  }
}

function deadlineError(ms: number): ProviderAnswerError {
  return new ProviderAnswerError('AUTH_NETWORK', `the provider did not finish answering within ${formatSeconds(ms)} s`,
    'The provider (or a proxy in between) is answering too slowly; try again later, and check HTTPS_PROXY / NO_PROXY.');
}

function tooLargeError(maxBytes: number): ProviderAnswerError {
  return new ProviderAnswerError('AUTH_PROVIDER_ERROR', `the provider's answer was larger than ${formatBytes(maxBytes)}, so it was not used`);
}

export function boundedFetch(next: typeof fetch, limits: { timeoutMs: number; maxBytes: number }): typeof fetch {
  return async (input, init) => {
    // Our own controller, kept alive by the timer below until the body is read. A composite
    // AbortSignal.any() signal that nothing references can be garbage-collected on Node 20
    // while the body is still arriving, and its timeout then never fires.
    const controller = new AbortController();
    const parent = init?.signal ?? undefined;
    const onParentAbort = () => controller.abort(parent?.reason);
    if (parent?.aborted) controller.abort(parent.reason);
    else parent?.addEventListener('abort', onParentAbort, { once: true });
    const timer = setTimeout(() => controller.abort(deadlineError(limits.timeoutMs)), limits.timeoutMs);
    try {
      const res = await next(input, { ...init, signal: controller.signal });
      const body = await readCapped(res, limits.maxBytes, controller);
      // Statuses that cannot carry a body (RFC 9110 §15.3.5, §15.4.5) must be rebuilt without one.
      const nullBody = res.status === 101 || res.status === 204 || res.status === 205 || res.status === 304;
      return new Response(nullBody ? null : body, { status: res.status, statusText: res.statusText, headers: new Headers([...res.headers]) });
    } catch (e) {
      // Whatever undici reports after our abort (AbortError, a terminated body), the reason is ours.
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
      if (reason instanceof ProviderAnswerError) throw reason;
      throw e;
    } finally {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    }
  };
}

/** The whole body, refused past maxBytes: Content-Length first when present, then as the bytes arrive. */
async function readCapped(res: Response, maxBytes: number, controller: AbortController): Promise<Uint8Array> {
  const tooLarge = () => {
    const e = tooLargeError(maxBytes);
    // Drops the connection: the rest of the body is not downloaded.
    controller.abort(e);
    return e;
  };
  const declared = res.headers.get('content-length');
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}
