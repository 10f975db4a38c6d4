import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';

/**
 * `fetch` for the CLI's requests to providers, over node:http / node:https.
 *
 * Node's built-in fetch (undici) compiles its WebAssembly HTTP parser in every process
 * that makes a first request: about 200 ms of CPU and wall time on each `auth login`,
 * each refresh and each logout, several times the whole cost of a command
 * (docs/design.md §7). node:http parses in C. The Response handed back is the platform's
 * own class, so openid-client and the rest see exactly what fetch would give them:
 * status, headers and a streaming body that flows/bounded-fetch.ts reads under its
 * deadline and size cap.
 *
 * Failures look like fetch's: a TypeError "fetch failed" whose `cause` is the socket
 * error (ECONNREFUSED, ECONNRESET, a TLS certificate code, an AggregateError when every
 * address failed), a TypeError "terminated" when the body breaks off, and the signal's
 * reason when the request is aborted. Only what the CLI sends is handled here —
 * `redirect: 'manual'` (openid-client and the discovery redirect handling ask for that),
 * string / URLSearchParams / bytes bodies; anything else goes to `fallback`.
 */
export function httpTransport(fallback: typeof fetch): typeof fetch {
  // Connections are kept for the next request of the same command (login: discovery, token,
  // JWKS, userinfo). Node's Agent unrefs an idle socket, so it never holds the process open, and
  // `timeout` closes one idle for 2 s, well before servers close theirs (5 s and up): a request
  // never goes out on a connection the server is closing (device-flow polls are 5 s apart).
  const options = { keepAlive: true, timeout: 2000 };
  const agents = { http: new HttpAgent(options), https: new HttpsAgent(options) };
  return (input, init) => {
    const url = typeof input === 'string' ? safeUrl(input) : input instanceof URL ? input : undefined;
    const body = requestBody(init?.body);
    if (!url || init?.redirect !== 'manual' || body === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      return fallback(input, init);
    }
    return send(url, init, body, url.protocol === 'https:' ? agents.https : agents.http);
  };
}

function safeUrl(input: string): URL | undefined {
  try {
    return new URL(input);
  } catch {
    return undefined;
  }
}

interface Body {
  bytes: Uint8Array | null;
  contentType?: string;
}

/** The body as bytes (null: none), or undefined for a kind this transport leaves to fetch. */
function requestBody(body: RequestInit['body']): Body | undefined {
  if (body === undefined || body === null) return { bytes: null };
  if (typeof body === 'string') return { bytes: Buffer.from(body), contentType: 'text/plain;charset=UTF-8' };
  if (body instanceof URLSearchParams) return { bytes: Buffer.from(body.toString()), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' };
  if (body instanceof Uint8Array) return { bytes: body };
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body) };
  return undefined;
}

function send(url: URL, init: RequestInit, body: Body, agent: HttpAgent): Promise<Response> {
  const signal = init.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => (headers[name] = value));
  headers.accept ??= '*/*';
  headers['user-agent'] ??= 'node';
  headers['accept-encoding'] ??= 'gzip, deflate, br';
  if (body.bytes) {
    if (body.contentType) headers['content-type'] ??= body.contentType;
    headers['content-length'] = String(body.bytes.byteLength);
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers, agent });
    const onAbort = () => req.destroy(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    let answered = false;
    req.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      if (answered) return; // the body stream reports it
      reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: e }));
    });
    req.once('response', (res) => {
      answered = true;
      res.once('close', () => signal?.removeEventListener('abort', onAbort));
      try {
        resolve(toResponse(res, req.method, () => req.destroy(), signal));
      } catch (e) {
        req.destroy();
        reject(new TypeError('fetch failed', { cause: e }));
      }
    });
    req.end(body.bytes ?? undefined);
  });
}

function toResponse(res: IncomingMessage, method: string, destroy: () => void, signal: AbortSignal | undefined): Response {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const status = res.statusCode ?? 0;
  const init = { status, statusText: res.statusMessage ?? '', headers };
  // Statuses that cannot carry a body (RFC 9110 §15.3.5, §15.4.5), and HEAD answers.
  if (status === 101 || status === 204 || status === 205 || status === 304 || method === 'HEAD') {
    res.resume();
    return new Response(null, init);
  }
  const source = decoded(res, headers.get('content-encoding'));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let done = false;
      source.on('data', (chunk: Buffer) => {
        if (done) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) source.pause();
      });
      source.once('end', () => {
        if (!done) controller.close();
        done = true;
      });
      const fail = (e: unknown) => {
        if (!done) controller.error(signal?.aborted ? signal.reason : new TypeError('terminated', { cause: e }));
        done = true;
      };
      source.once('error', fail);
      res.once('aborted', () => fail(Object.assign(new Error('other side closed'), { code: 'ECONNRESET' })));
    },
    pull() {
      source.resume();
    },
    cancel() {
      source.removeAllListeners('data');
      destroy();
    },
  });
  return new Response(stream, init);
}

/** The body with its Content-Encoding undone, as fetch does. */
function decoded(res: IncomingMessage, encoding: string | null): Readable {
  const codings = (encoding ?? '').toLowerCase().split(',').map((c) => c.trim()).filter((c) => c && c !== 'identity');
  let stream: Readable = res;
  for (const coding of codings.reverse()) {
    const step = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : coding === 'br' ? createBrotliDecompress() : undefined;
    if (!step) return res; // an unknown coding: the bytes as they came, as fetch does
    stream.once('error', (e) => step.destroy(e));
    stream = stream.pipe(step);
  }
  return stream;
}
