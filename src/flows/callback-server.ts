import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { AuthError } from '../errors.js';
import { peerOwner, type PeerOwner } from './peer-owner.js';
import { renderPage, STYLE_HASH, type PageContent } from '../ui/html.js';

/**
 * The loopback redirect listener (RFC 8252 §7.3, §8.3; docs/security.md R20–R28).
 * Bound to 127.0.0.1 only, exclusive port, exact GET path, Host checked.
 * Requests with a missing or wrong `state` are answered 400 and the flow keeps
 * waiting; more than MAX_JUNK_REQUESTS of them from this user's own programs end
 * the sign-in. On Linux a connection from another local user is answered 403
 * and never counted (peer-owner.ts), so another user can neither deliver her
 * own code nor end the sign-in. The first request with the right state is the
 * one accepted; its page is held until the caller says how the sign-in ended.
 */
interface AcceptedCallback {
  /** The received query, on the stored redirect URI (docs/security.md R26). */
  url: URL;
  /** Completes the browser's request with the final page. */
  respond(page: PageContent): void;
}

export interface CallbackServer {
  redirectUri: string;
  port: number;
  /** Resolves with the first valid-state callback; rejects on abort or too much junk. */
  next(signal: AbortSignal): Promise<AcceptedCallback>;
  close(): Promise<void>;
}

const MAX_JUNK_REQUESTS = 32;

const HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  Connection: 'close',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': `default-src 'none'; style-src ${STYLE_HASH}; frame-ancestors 'none'; form-action 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
};

function send(res: ServerResponse, status: number, page: PageContent): void {
  if (res.writableEnded) return;
  res.writeHead(status, HEADERS);
  res.end(renderPage(page));
}

export async function startCallbackServer(options: { host: string; port: number; path: string; expectedState: string }): Promise<CallbackServer> {
  const { host, path, expectedState } = options;
  let accepted = false;
  let junk = 0;
  let deliver: ((cb: AcceptedCallback) => void) | undefined;
  let fail: ((e: Error) => void) | undefined;
  let pending: AcceptedCallback | undefined;
  const sockets = new Set<Socket>();
  let authority = '';
  let acceptedHosts = new Set<string>();

  const rejectJunk = (res: ServerResponse, status: number, page: PageContent) => {
    send(res, status, page);
    junk += 1;
    if (junk > MAX_JUNK_REQUESTS) {
      fail?.(new AuthError('AUTH_FAILED', `Sign-in aborted: the callback listener received more than ${MAX_JUNK_REQUESTS} invalid requests, which suggests another program is interfering.`, {
        hint: 'Run `auth login` again; if it happens again, check what is connecting to 127.0.0.1 on this machine.',
      }));
    }
  };

  const owners = new WeakMap<Socket, Promise<PeerOwner>>();

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const owner = owners.get(req.socket) ?? Promise.resolve<PeerOwner>('unknown');
    void owner.then((o) => {
      if (o === 'other') {
        return send(res, 403, { ok: false, title: 'Forbidden', lines: ['This sign-in belongs to another user of this computer.'] });
      }
      handle(req, res);
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '';
    // Absolute-form targets and foreign Host headers (DNS rebinding) are refused (R24).
    if (!target.startsWith('/') || !acceptedHosts.has(req.headers.host ?? '')) {
      return rejectJunk(res, 400, { ok: false, title: 'Bad request', lines: ['This address only accepts the sign-in redirect.'] });
    }
    const q = target.indexOf('?');
    const rawPath = q === -1 ? target : target.slice(0, q);
    if (rawPath !== path) {
      return rejectJunk(res, 404, { ok: false, title: 'Not found', lines: ['This address only accepts the sign-in redirect.'] });
    }
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      return rejectJunk(res, 405, { ok: false, title: 'Method not allowed', lines: ['This address only accepts the sign-in redirect.'] });
    }
    const query = q === -1 ? '' : target.slice(q + 1);
    const params = new URLSearchParams(query);
    const states = params.getAll('state');
    if (accepted) {
      return send(res, 400, { ok: false, title: 'Sign-in already handled', lines: ['This sign-in has already been completed or ended. You can close this tab.'] });
    }
    if (states.length !== 1 || states[0] !== expectedState) {
      return rejectJunk(res, 400, {
        ok: false,
        title: 'This sign-in link is not valid',
        lines: ['The response does not belong to the sign-in in progress in your terminal, so it was ignored.', 'If you started the sign-in, use the link printed in your terminal.'],
      });
    }
    accepted = true;
    const url = new URL(`http://${authority}${path}`);
    url.search = query;
    const callback: AcceptedCallback = { url, respond: (page) => send(res, page.ok ? 200 : 400, page) };
    if (deliver) deliver(callback);
    else pending = callback;
  };

  const server: Server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 15_000, headersTimeout: 10_000, keepAliveTimeout: 1 }, handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    owners.set(s, peerOwner({
      localAddress: s.localAddress ?? '', localPort: s.localPort ?? 0, remoteAddress: s.remoteAddress ?? '', remotePort: s.remotePort ?? 0,
    }).catch((): PeerOwner => 'unknown'));
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') {
        reject(new AuthError('AUTH_PORT_IN_USE', `Port ${options.port} on ${host} is already in use, so the sign-in callback cannot listen there.`, {
          hint: 'Stop the program using it, or run with `--port 0` to let auth pick a free port.',
        }));
      } else if (e.code === 'EACCES') {
        reject(new AuthError('AUTH_PORT_IN_USE', `Not allowed to listen on port ${options.port} on ${host}.`, { hint: 'Use `--port 0` or a port above 1024.' }));
      } else reject(new AuthError('AUTH_FAILED', `Could not start the sign-in callback listener: ${e.code ?? e.message}.`));
    });
    // exclusive: never share the port with another process (R21).
    server.listen({ host, port: options.port, exclusive: true }, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const hostLiteral = host.includes(':') ? `[${host}]` : host;
  // Port 80 is http's default: the redirect URI omits it (as browsers and providers
  // normalise it, RFC 3986 §6.2.3), so the browser's Host header has no port either.
  authority = port === 80 ? hostLiteral : `${hostLiteral}:${port}`;
  acceptedHosts = new Set([authority, `${hostLiteral}:${port}`]);

  let closed: Promise<void> | undefined;
  return {
    redirectUri: `http://${authority}${path}`,
    port,
    next(signal) {
      if (pending) return Promise.resolve(pending);
      return new Promise<AcceptedCallback>((resolve, reject) => {
        const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new AuthError('AUTH_INTERRUPTED', 'Interrupted.'));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        deliver = (cb) => { signal.removeEventListener('abort', onAbort); resolve(cb); };
        fail = (e) => { signal.removeEventListener('abort', onAbort); reject(e); };
      });
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Finish any held page, then drop kept-alive sockets so close() cannot hang.
        setTimeout(() => { for (const s of sockets) s.destroy(); }, 50).unref();
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}
