import { execFileSync } from 'node:child_process';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { errorBlock, errorLine } from './support/cli.js';
import { startFakeAs, type FakeAs } from './support/fake-as.js';
import {
  awaitRedirect, connectionRefused, expectNoControlBytes, expectNothingStored, rawGet, rawRequest, session, targetOf, type Session,
} from './support/security.js';

// docs/security.md §3–§4 (R20–R31):  the loopback listener under
// hostile input. Pattern: the test browser GETs /authorize but does not follow
// the redirect; the test plays both the attacker and, last, the real browser.

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Waiting {
  fake: FakeAs;
  s: Session;
  child: ReturnType<Session['spawn']>;
  /** The genuine callback URL the fake AS redirected to. */
  callback: URL;
  port: number;
  state: string;
  /** Sends the genuine callback and expects the sign-in to succeed. */
  finish(): Promise<void>;
}

async function waitingLogin(extraArgs: string[] = []): Promise<Waiting> {
  const fake = await startFakeAs();
  const s = session('authorize');
  const child = s.spawnLogin(fake, extraArgs);
  cleanups.push(() => fake.close(), () => { child.kill('SIGKILL'); }, () => s.cleanup());
  const callback = await awaitRedirect(fake);
  const port = Number(callback.port);
  return {
    fake, s, child, callback, port,
    state: callback.searchParams.get('state')!,
    async finish() {
      expect(fake.requestsTo('/token'), 'no junk request may reach the token endpoint').toHaveLength(0);
      expectNothingStored(s);
      const real = await rawGet(port, targetOf(callback));
      expect(real.status).toBe(200);
      expect(real.body).toContain('Signed in');
      const res = await child.result;
      expect(res.code, res.stderr).toBe(0);
      expect(fake.requestsTo('/token')).toHaveLength(1);
      expect(s.stored()?.access_token).toBe(fake.issued.accessTokens[0]);
    },
  };
}

/** A callback target with the given query on the redirect path. */
const cb = (query: string) => `/callback?${query}`;

describe('R20–R22 the listener', () => {
  it('R20: the listener is bound to 127.0.0.1 only', async () => {
    const w = await waitingLogin();
    // Other loopback and interface addresses do not reach it.
    expect(await connectionRefused(w.port, '127.0.0.2')).toBe(true);
    const others = Object.values(networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4' && !i.internal).map((i) => i!.address);
    for (const address of others) expect(await connectionRefused(w.port, address), address).toBe(true);
    try {
      const ss = execFileSync('ss', ['-Hltn', `sport = :${w.port}`], { encoding: 'utf8' }).trim().split('\n');
      expect(ss).toHaveLength(1);
      expect(ss[0]).toMatch(new RegExp(`\\s127\\.0\\.0\\.1:${w.port}\\s`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await w.finish();
  });

  it('R21: a second bind of the callback port fails while the sign-in waits', async () => {
    const w = await waitingLogin();
    const squatter = createNetServer();
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      squatter.once('error', resolve);
      squatter.listen({ host: '127.0.0.1', port: w.port }, () => resolve(undefined));
    });
    squatter.close();
    expect(err?.code).toBe('EADDRINUSE');
    await w.finish();
  });

  it('R21: a fixed --port that is taken fails before the browser hook, naming the port and --port 0', async () => {
    const fake = await startFakeAs();
    const s = session();
    cleanups.push(() => fake.close(), () => s.cleanup());
    const squatter = createNetServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    cleanups.push(() => squatter.close());
    const port = (squatter.address() as { port: number }).port;
    const res = await s.login(fake, ['--port', String(port)]);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toContain(`Port ${port}`);
    expect(errorBlock(res.stderr)).toContain('--port 0');
    expect(s.browserEntries()).toEqual([]);
    expect(fake.requestsTo('/authorize')).toHaveLength(0);
  });

  it('R22: the port is closed after a successful sign-in', async () => {
    const w = await waitingLogin();
    await w.finish();
    expect(await connectionRefused(w.port)).toBe(true);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`R22: ${signal} closes the listener and exits 130`, async () => {
      const w = await waitingLogin();
      w.child.kill(signal);
      const res = await w.child.result;
      expect(res.code).toBe(130);
      expect(res.stderr).toMatch(/Interrupted/);
      expect(await connectionRefused(w.port)).toBe(true);
      expectNothingStored(w.s);
    });
  }
});

describe('R23–R25 junk requests', () => {
  it('R23: wrong paths and methods get 404/405 without ending the flow; then the real callback succeeds', async () => {
    const w = await waitingLogin();
    const q = w.callback.search;
    for (const path of ['/callback/', '/CALLBACK', '//callback', '/callback%2F', '/x/..%2Fcallback', '/callback;x', '/callback/..', '/', '/favicon.ico', '/callback.html']) {
      const res = await rawGet(w.port, `${path}${q}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.connection).toBe('close');
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) {
      const res = await rawGet(w.port, targetOf(w.callback), { method, ...(method === 'POST' || method === 'PUT' ? { body: 'code=x' } : {}) });
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe('GET');
    }
    await w.finish();
  });

  it('R23: 33 junk requests abort the sign-in with a clear message', async () => {
    const w = await waitingLogin();
    for (let i = 0; i < 33; i++) {
      const res = await rawGet(w.port, cb(`code=x${i}&state=wrong${i}`)).catch(() => undefined);
      if (res) expect(res.status).toBe(400);
    }
    const res = await w.child.result;
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/more than 32 invalid requests/);
    expect(await connectionRefused(w.port)).toBe(true);
    expect(w.fake.requestsTo('/token')).toHaveLength(0);
    expectNothingStored(w.s);
  });

  it('R23: an open slowloris connection does not delay the real callback', async () => {
    const w = await waitingLogin();
    const slow: Socket = connect({ host: '127.0.0.1', port: w.port });
    cleanups.push(() => slow.destroy());
    await new Promise((r) => slow.once('connect', r));
    slow.write(`GET /callback?state=${w.state} HTTP/1.1\r\nHost: 127.0.0.1:${w.port}\r\nX-Slow: `);
    // A listener blocked by the half-sent request would never finish: the test's timeout ends it.
    await w.finish();
  });

  it('R24: a foreign Host (DNS rebinding) and absolute-form targets get 400; the flow continues', async () => {
    const w = await waitingLogin();
    const target = targetOf(w.callback);
    for (const host of [`rebind.example:${w.port}`, 'rebind.example', `localhost:${w.port}`, `127.0.0.1:${w.port + 1}`, `127.0.0.1`]) {
      const res = await rawGet(w.port, target, { host });
      expect(res.status, host).toBe(400);
    }
    const noHost = await rawRequest(w.port, `GET ${target} HTTP/1.0\r\n\r\n`);
    expect(noHost.status).toBe(400);
    for (const absolute of [`http://evil.example${target}`, `http://127.0.0.1:${w.port}${target}`]) {
      const res = await rawGet(w.port, absolute);
      expect(res.status, absolute).toBe(400);
    }
    await w.finish();
  });

  it('R25: every answer is an inert page (no-store, no-referrer, CSP default-src none, nosniff), never a redirect, never reflecting input', async () => {
    const w = await waitingLogin();
    const attack = new URLSearchParams({
      code: 'x', state: 'wrong', error: 'access_denied', error_description: '<script>alert(document.cookie)</script>',
      next: 'https://evil.example/', return_to: 'https://evil.example/', redirect_uri: 'https://evil.example/',
    });
    const answers = [
      await rawGet(w.port, cb(attack.toString())),
      await rawGet(w.port, `/nowhere?${attack}`),
      await rawGet(w.port, cb(attack.toString()), { method: 'POST', body: '' }),
    ];
    for (const res of answers) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.body).not.toMatch(/<script|evil|alert|document\.cookie/i);
      expect(res.body).not.toMatch(/<(img|link|iframe|a |form)/i);
    }
    await w.finish();
  });
});

describe('R27–R31 authorization response validation', () => {
  it('R27: missing, wrong, empty and duplicated state are answered 400; nothing is exchanged or stored; the real callback still works', async () => {
    const w = await waitingLogin();
    const code = w.callback.searchParams.get('code')!;
    const iss = encodeURIComponent(w.fake.issuer);
    for (const query of [
      `code=${code}&iss=${iss}`,
      `code=${code}&state=&iss=${iss}`,
      `code=${code}&state=${w.state}x&iss=${iss}`,
      `code=${code}&state=${w.state.slice(0, -1)}&iss=${iss}`,
      `code=${code}&state=${w.state}&state=${w.state}&iss=${iss}`,
      `code=${code}&state=${w.state}&state=other&iss=${iss}`,
      `code=${code}&STATE=${w.state}&iss=${iss}`,
    ]) {
      const res = await rawGet(w.port, cb(query));
      expect(res.status, query).toBe(400);
      expect(res.body).toContain('not valid');
    }
    await w.finish();
  });

  it('R28: the state is single-use — a replay while the code is being exchanged, and after, is refused; /token sees one exchange', async () => {
    const w = await waitingLogin();
    let open!: () => void;
    w.fake.tokenScript.push({ delay: new Promise<void>((r) => (open = r)) });
    const genuine = rawGet(w.port, targetOf(w.callback));
    await w.fake.waitForRequest('/token');
    const replay = await rawGet(w.port, targetOf(w.callback));
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('already');
    open();
    expect((await genuine).status).toBe(200);
    const res = await w.child.result;
    expect(res.code, res.stderr).toBe(0);
    expect(await connectionRefused(w.port)).toBe(true);
    expect(w.fake.requestsTo('/token')).toHaveLength(1);
  });

  it('R29: a callback with a wrong iss is rejected; no token request, nothing stored', async () => {
    const fake = await startFakeAs();
    const s = session();
    cleanups.push(() => fake.close(), () => s.cleanup());
    fake.authorizeScript = ({ code, state }) => ({ code, state: state!, iss: `http://127.0.0.1:${fake.port + 1}/evil` });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/did not identify http:\/\/127\.0\.0\.1:\d+ as its sender \(missing or wrong "iss"\)/);
    expect(fake.requestsTo('/token')).toHaveLength(0);
    expectNothingStored(s);
  });

  it('R29: a callback without iss is rejected when the provider advertises RFC 9207', async () => {
    const fake = await startFakeAs();
    const s = session();
    cleanups.push(() => fake.close(), () => s.cleanup());
    fake.authorizeScript = ({ code, state }) => ({ code, state: state! });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/did not identify http:\/\/127\.0\.0\.1:\d+ as its sender \(missing or wrong "iss"\)/);
    expect(fake.requestsTo('/token')).toHaveLength(0);
    expectNothingStored(s);
  });

  it('R29: an error response with a wrong iss is not reported as the provider\'s answer', async () => {
    const fake = await startFakeAs();
    const s = session();
    cleanups.push(() => fake.close(), () => s.cleanup());
    fake.authorizeScript = ({ state }) => ({ error: 'access_denied', error_description: 'attacker says no', state: state!, iss: 'https://evil.example' });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(res.stderr).not.toMatch(/answered access_denied/);
    expect(res.stderr).not.toContain('attacker says no');
    expectNothingStored(s);
  });

  it('R30: a response repeating the code parameter is rejected without a token request', async () => {
    const fake = await startFakeAs();
    const s = session();
    cleanups.push(() => fake.close(), () => s.cleanup());
    fake.authorizeScript = ({ code, state }) => ({ code: [code, 'CODE_other'], state: state!, iss: fake.issuer });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(fake.requestsTo('/token')).toHaveLength(0);
    expectNothingStored(s);
  });

  it('R31: an error with terminal escape sequences ends the flow; stderr names the error with no ESC/BEL/bidi bytes; the page escapes the HTML', async () => {
    const fake = await startFakeAs();
    const s = session();
    cleanups.push(() => fake.close(), () => s.cleanup());
    const description = 'denied\u001b]52;c;ZXZpbA==\u0007 \u001b[2J\u001b]8;;https://evil.example\u001b\\link\u001b]8;;\u001b\\ \u202egnp.exe <script>alert(1)</script>\u009b31m';
    fake.authorizeScript = ({ state }) => ({ error: 'access_denied', error_description: description, state: state!, iss: fake.issuer });
    const res = await s.login(fake);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toContain('access_denied');
    expect(errorLine(res.stderr)).toContain('denied');
    expectNoControlBytes(res.stderr);
    expect(fake.requestsTo('/token')).toHaveLength(0);
    expectNothingStored(s);
    const page = (await s.browserDone()).find((e) => 'callbackStatus' in e)!;
    expect(page.callbackStatus).toBe(400);
    expect(page.callbackBody as string).not.toMatch(/<script/i);
    expectNoControlBytes(page.callbackBody as string);
  });

  it('R08: a callback carrying access_token or id_token (implicit/hybrid) is rejected and nothing is stored', async () => {
    for (const extra of [{ access_token: 'AT_injected', token_type: 'bearer' }, { id_token: 'eyJhbGciOiJub25lIn0.e30.' }]) {
      const fake = await startFakeAs();
      const s = session();
      cleanups.push(() => fake.close(), () => s.cleanup());
      fake.authorizeScript = ({ code, state }) => ({ code, state: state!, iss: fake.issuer, ...extra });
      const res = await s.login(fake);
      expect(res.code, JSON.stringify(extra)).toBe(1);
      expect(fake.requestsTo('/token')).toHaveLength(0);
      expectNothingStored(s);
      expect(res.stderr).not.toContain('AT_injected');
    }
  });
});

describe('hostile input at the loopback callback', () => {
  it('R23: huge query strings and headers are refused without ending or blocking the sign-in', async () => {
    const w = await waitingLogin();
    const big = 'A'.repeat(100_000);
    const hugeQuery = await rawGet(w.port, cb(`code=${big}&state=${w.state}`)).catch((e: Error) => e);
    if (!(hugeQuery instanceof Error)) expect([400, 413, 414, 431]).toContain(hugeQuery.status);
    const hugeHeader = await rawGet(w.port, targetOf(w.callback), { headers: [`X-Junk: ${'B'.repeat(40_000)}`] }).catch((e: Error) => e);
    if (!(hugeHeader instanceof Error)) expect([400, 431]).toContain(hugeHeader.status);
    const manyHeaders = await rawGet(w.port, targetOf(w.callback), { headers: Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`) }).catch((e: Error) => e);
    if (!(manyHeaders instanceof Error)) expect([400, 431]).toContain(manyHeaders.status);
    // Just under the header limit, with a wrong state: an ordinary 400.
    const longWrong = await rawGet(w.port, cb(`state=wrong&code=${'C'.repeat(8000)}`));
    expect(longWrong.status).toBe(400);
    const garbage = await rawRequest(w.port, '\u0000\u0001GARBAGE\r\n\r\n');
    expect(garbage.status === 400 || garbage.status === 0).toBe(true);
    await w.finish();
  });

  it('R27: an attacker request racing the real browser neither completes nor aborts the sign-in; the stored token is the genuine one', async () => {
    const w = await waitingLogin();
    const attackerQuery = (i: number) => `code=CODE_attacker${i}&state=${i % 2 ? '' : 'guess'}&iss=${encodeURIComponent(w.fake.issuer)}`;
    const [attacks, real] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, (_, i) => rawGet(w.port, cb(attackerQuery(i))).catch(() => undefined))),
      rawGet(w.port, targetOf(w.callback)),
    ]);
    for (const a of attacks) if (a) expect(a.status).toBe(400);
    expect(real.status).toBe(200);
    const res = await w.child.result;
    expect(res.code, res.stderr).toBe(0);
    const token = w.fake.requestsTo('/token');
    expect(token).toHaveLength(1);
    expect(token[0]!.form.get('code')).toBe(w.callback.searchParams.get('code'));
    expect(w.s.stored()?.access_token).toBe(w.fake.issued.accessTokens[0]);
  });

  it('R25 R31: a wrong-state error callback with HTML and escapes is ignored (400, not reflected) and the sign-in continues', async () => {
    const w = await waitingLogin();
    const evil = new URLSearchParams({ error: 'access_denied', error_description: '<b>x</b>\u001b[31m<script>alert(1)</script>', state: 'forged' });
    const res = await rawGet(w.port, cb(evil.toString()));
    expect(res.status).toBe(400);
    expect(res.body).not.toMatch(/<script|<b>|alert/);
    expectNoControlBytes(res.body);
    const noState = await rawGet(w.port, cb('error=access_denied'));
    expect(noState.status).toBe(400);
    await w.finish();
    expect((await w.child.result).stderr).not.toContain('access_denied');
  });
});
