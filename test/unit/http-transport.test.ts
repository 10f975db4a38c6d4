import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { httpTransport } from '../../src/flows/http-transport.js';

// The node:http transport behind every provider request (src/flows/http-transport.ts), against a
// real local HTTP server: what openid-client and flows/bounded-fetch.ts rely on from fetch.

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let server: Server;
let base = '';
let handler: Handler = (_req, _body, res) => res.end();
const connections: unknown[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => handler(req, body, res));
  });
  server.on('connection', (s) => connections.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const fallbackCalls: unknown[] = [];
const transport = httpTransport((async (input: unknown) => {
  fallbackCalls.push(input);
  return new Response('from fallback');
}) as typeof fetch);

describe('http transport', () => {
  it('a form POST: method, content type, body and headers arrive; status, headers and body come back in a real Response', async () => {
    handler = (req, body, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('content-type', 'application/json');
      res.writeHead(201, 'Made');
      res.end(JSON.stringify({ method: req.method, type: req.headers['content-type'], auth: req.headers.authorization, body }));
    };
    const res = await transport(`${base}/token`, {
      method: 'POST',
      redirect: 'manual',
      headers: { authorization: 'Basic eDp5' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'r t' }),
    });
    expect(res).toBeInstanceOf(Response);
    expect(res.status).toBe(201);
    expect(res.statusText).toBe('Made');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({
      method: 'POST',
      type: 'application/x-www-form-urlencoded;charset=UTF-8',
      auth: 'Basic eDp5',
      body: 'grant_type=refresh_token&refresh_token=r+t',
    });
    expect(fallbackCalls).toEqual([]);
  });

  it('a redirect is returned as it is (redirect: manual); a 204 has no body', async () => {
    handler = (req, _body, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.writeHead(204).end();
    };
    const moved = await transport(`${base}/moved`, { redirect: 'manual' });
    expect(moved.status).toBe(302);
    expect(moved.headers.get('location')).toBe('/elsewhere');
    const empty = await transport(`${base}/none`, { redirect: 'manual' });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('a gzip-encoded answer is decoded, as fetch does', async () => {
    handler = (_req, _body, res) => res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' }).end(gzipSync('{"ok":true}'));
    const res = await transport(`${base}/z`, { redirect: 'manual' });
    expect(await res.json()).toEqual({ ok: true });
  });

  it('requests of one command share a connection', async () => {
    handler = (_req, _body, res) => res.end('x');
    const before = connections.length;
    for (let i = 0; i < 3; i++) await (await transport(`${base}/k`, { redirect: 'manual' })).text();
    expect(connections.length - before).toBeLessThanOrEqual(1); // 0 when an earlier test left one open
    expect(connections.length).toBeLessThan(4);
  });

  it('a refused connection is a TypeError "fetch failed" whose cause carries ECONNREFUSED', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await transport(`http://127.0.0.1:${port}/`, { redirect: 'manual' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('fetch failed');
    expect(((err as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('a body cut off midway fails the read with a TypeError "terminated"', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(10), () => res.socket?.destroy());
    };
    const res = await transport(`${base}/cut`, { redirect: 'manual' });
    const err = await res.text().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('terminated');
  });

  it('an abort rejects with the signal\'s reason, before and during the request', async () => {
    handler = () => undefined; // never answers
    const reason = new Error('stop');
    const early = new AbortController();
    early.abort(reason);
    await expect(transport(`${base}/slow`, { redirect: 'manual', signal: early.signal })).rejects.toBe(reason);
    const late = new AbortController();
    setTimeout(() => late.abort(reason), 50);
    await expect(transport(`${base}/slow`, { redirect: 'manual', signal: late.signal })).rejects.toBe(reason);
  });

  it('what it does not handle goes to the fallback fetch: redirects to follow, a Request, other body kinds', async () => {
    fallbackCalls.length = 0;
    await transport(`${base}/a`);
    await transport(new Request(`${base}/b`), { redirect: 'manual' });
    await transport(`${base}/c`, { method: 'POST', redirect: 'manual', body: new Blob(['x']) });
    expect(fallbackCalls).toHaveLength(3);
  });
});
