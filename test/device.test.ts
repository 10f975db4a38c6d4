import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { approveDevice } from '../sandbox/browser-lib.mjs';
import { baseEnv, BIN, makeHome, runCli, spawnCli, waitForStderr } from './support/cli.js';
import { requireSystem } from './support/system.js';
import { sh, TmuxPane, tmuxAvailable } from './mfa-support.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
type Child = ReturnType<typeof spawnCli>;

// The device authorization grant (RFC 8628) end to end: the built CLI against the
// real oidc-provider sandbox, the approval done on the provider's real device pages
// by the scripted HTTP browser; poll timing measured on the provider side.
// A tiny node:http fake covers what a real provider will not send (hostile strings,
// insecure URIs, dropped connections, no device endpoint).

const PROMPT = /open (\S+) and enter the code: (\S+)/;
const TOLERANCE_MS = 50;
const NO_BROWSER = { AUTH_BROWSER: undefined, BROWSER: undefined, DISPLAY: undefined, WAYLAND_DISPLAY: undefined };

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads the code the CLI printed and approves (or denies) it on the provider's pages, typing the code in. */
async function approveFromStderr(child: Child, action: 'approve' | 'deny' = 'approve') {
  const [, uri, userCode] = await waitForStderr(child, PROMPT);
  await approveDevice({ verificationUri: uri!, userCode: userCode! }, { action });
  return { uri: uri!, userCode: userCode! };
}

/** Children still running when a test fails would keep polling a shared sandbox. */
const children: Child[] = [];
function track(child: Child): Child {
  children.push(child);
  return child;
}
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function credentialFiles(home: string): string[] {
  const dir = join(home, 'credentials');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
}

describe('device flow against the sandbox provider (interval 1 s)', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ deviceInterval: 1 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });
  const deviceRequests = () => sandbox.events.filter((e) => e.type === 'device_authorization.success');

  it('--device: code approved on the provider pages → logged in; polls never faster than the interval (R47, R48, R52, R53)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const before = sandbox.polls().length;
      const child = track(spawnCli(['login', '--device', '--debug', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home }));
      const [, uri, userCode] = await waitForStderr(child, PROMPT);
      const started = deviceRequests().at(-1)!.at;
      // Let it poll (authorization_pending) a few times before approving.
      await until(() => sandbox.polls().length - before >= 3);
      // R52: the device code is a secret; look it up on the provider side to grep for it.
      const stored0 = await sandbox.provider.DeviceCode.findByUserCode(userCode!.replace(/[^A-Z0-9]/gi, '').toUpperCase(), { ignoreExpiration: true });
      const deviceCode = stored0?.jti as string;
      expect(deviceCode?.length).toBeGreaterThan(20);
      await approveDevice({ verificationUri: uri!, userCode: userCode! });
      const res = await child.result;

      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain(`To sign in, open ${sandbox.issuer}/device and enter the code: ${userCode}`);
      expect(res.stderr).toContain('Only enter this code on that page; nobody will ever ask you for it.');
      // R53: names the verification host and this machine.
      expect(res.stderr).toContain(new URL(uri!).host);
      expect(res.stderr).toContain(hostname());
      expect(res.stderr).toContain('flow: device (the device flow was requested)');
      expect(res.stderr).toMatch(/✓ Logged in to \S+ as alice@example\.com \(profile default\)/);
      // Not a TTY: no QR code, no spinner.
      expect(res.stderr).not.toMatch(/[▄▀█]/);

      const stored = readFileSync(join(home, 'credentials', 'default.json'), 'utf8');
      expect(JSON.parse(stored).refresh_token).toBeTruthy();
      expect(JSON.parse(stored).account.email).toBe('alice@example.com');
      // R52: never displayed (even with --debug), logged or written to disk.
      expect(res.stderr).not.toContain(deviceCode);
      expect(stored).not.toContain(deviceCode);
      expect(readFileSync(join(home, 'config.yaml'), 'utf8')).not.toContain(deviceCode);

      // R48: the first poll waits one interval after the device authorization, and so does every next one.
      const polls = sandbox.polls().slice(before);
      expect(polls.length).toBeGreaterThanOrEqual(4);
      for (const gap of gaps([started, ...polls])) expect(gap).toBeGreaterThanOrEqual(1000 - TOLERANCE_MS);
      console.info(`[device] interval 1 s, pending then approved: gaps ${gaps([started, ...polls]).join(', ')} ms`);
    } finally {
      cleanup();
    }
  });

  it('denied on the verification page → exit 1 with access_denied, nothing stored, polling stops (R50)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const before = sandbox.polls().length;
      const child = track(spawnCli(['login', '--device', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home }));
      await approveFromStderr(child, 'deny');
      const res = await child.result;
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain('Sign-in was denied on the verification page (access_denied');
      expect(res.stderr).toContain('auth login --device');
      expect(credentialFiles(home)).toEqual([]);
      expect(existsSync(join(home, 'config.yaml'))).toBe(false);
      const polls = sandbox.polls().length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(sandbox.polls().length).toBe(polls);
      expect(polls - before).toBeGreaterThanOrEqual(1);
    } finally {
      cleanup();
    }
  });

  it('Ctrl-C while waiting → exit 130, polling stops, nothing stored', async () => {
    const { home, cleanup } = makeHome();
    try {
      const child = track(spawnCli(['login', '--device', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home }));
      await waitForStderr(child, PROMPT);
      child.kill('SIGINT');
      const res = await child.result;
      expect(res.code).toBe(130);
      expect(res.stderr).toContain('Interrupted');
      expect(credentialFiles(home)).toEqual([]);
      const polls = sandbox.polls().length;
      await new Promise((r) => setTimeout(r, 1200));
      expect(sandbox.polls().length).toBe(polls);
    } finally {
      cleanup();
    }
  });

  it('auto over SSH (SSH_CONNECTION set, no BROWSER/AUTH_BROWSER) chooses the device flow; --debug says why (R45)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const child = track(spawnCli(['login', '--debug', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], {
        home,
        env: { ...NO_BROWSER, DISPLAY: ':0', SSH_CONNECTION: '203.0.113.7 52222 10.0.0.2 22' },
      }));
      await approveFromStderr(child);
      const res = await child.result;
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toContain('flow: device (this is an SSH session and the provider supports the device flow)');
      expect(res.stderr).not.toContain('Open this URL in your browser');
      expect(res.stderr).toContain('✓ Logged in');
    } finally {
      cleanup();
    }
  });

  it.skipIf(process.platform !== 'linux')('auto on Linux without DISPLAY/WAYLAND_DISPLAY chooses the device flow (R45)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const child = track(spawnCli(['login', '--debug', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home, env: NO_BROWSER }));
      await approveFromStderr(child);
      const res = await child.result;
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toContain('flow: device (there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set) and the provider supports the device flow)');
    } finally {
      cleanup();
    }
  });

  it('with a browser command set, SSH or not, the browser flow runs and no device authorization is requested (R45)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const before = deviceRequests().length;
      const res = await runCli(['login', '--debug', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], {
        home,
        env: { SSH_CONNECTION: '203.0.113.7 52222 10.0.0.2 22' },
      });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toContain('flow: browser (AUTH_BROWSER is set)');
      expect(deviceRequests().length).toBe(before);
    } finally {
      cleanup();
    }
  });

  it.skipIf(process.platform !== 'linux')('auto: the browser fails to launch → loopback listener closed, device flow instead', async () => {
    const { home, cleanup } = makeHome();
    try {
      // A desktop session whose launcher (xdg-open) finds no browser and exits non-zero.
      const child = track(spawnCli(['login', '--debug', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], {
        home,
        env: { ...NO_BROWSER, DISPLAY: ':99', PATH: '/nonexistent' },
      }));
      const [, url] = await waitForStderr(child, /\n {2}(http\S+)\n/);
      await approveFromStderr(child);
      const res = await child.result;
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toContain('flow: browser (a desktop session is available)');
      expect(res.stderr).toMatch(/Could not open a browser \(.*\); switching to the device flow/);
      expect(res.stderr).toContain('flow: device (launching the browser failed and the provider supports the device flow)');
      expect(res.stderr).toContain('✓ Logged in');
      // The loopback listener is gone.
      const port = Number(new URL(new URL(url!).searchParams.get('redirect_uri')!).port);
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(false); });
        s.once('error', () => resolve(true));
      });
      expect(refused).toBe(true);
    } finally {
      cleanup();
    }
  });

  it.skipIf(process.platform !== 'linux')('--browser keeps waiting on the loopback port when the launch fails (no device fallback)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const before = deviceRequests().length;
      const res = await runCli(['login', '--browser', '--timeout', '10', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], {
        home,
        env: { ...NO_BROWSER, DISPLAY: ':99', PATH: '/nonexistent' },
      });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/Could not open a browser \(.*\); open the URL above yourself/);
      expect(res.stderr).toContain('Timed out after 10 s');
      expect(deviceRequests().length).toBe(before);
    } finally {
      cleanup();
    }
  });
});

describe('device flow: slow_down (sandbox interval 1 s, first poll answered slow_down)', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ deviceInterval: 1, slowDown: 1 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('after a slow_down the next poll comes 5 s later than the interval (R48, R49)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const child = track(spawnCli(['login', '--device', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home }));
      const [, uri, userCode] = await waitForStderr(child, PROMPT);
      const started = sandbox.events.find((e) => e.type === 'device_authorization.success')!.at;
      // Approve right after the slow_down, so the second poll (6 s later) succeeds.
      await until(() => sandbox.events.some((e) => e.type === 'device.slow_down'));
      await approveDevice({ verificationUri: uri!, userCode: userCode! });
      const res = await child.result;
      expect(res.code, res.stderr).toBe(0);
      const polls = sandbox.polls();
      expect(polls).toHaveLength(2);
      const [first, second] = gaps([started, ...polls]) as [number, number];
      console.info(`[device] interval 1 s, slow_down on poll 1: gaps ${first}, ${second} ms`);
      expect(first).toBeGreaterThanOrEqual(1000 - TOLERANCE_MS);
      expect(second).toBeGreaterThanOrEqual(6000 - TOLERANCE_MS);
    } finally {
      cleanup();
    }
  });
});

describe('device flow: expiry (sandbox expires_in 2 s)', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ deviceInterval: 1, deviceCodeTTL: 2 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('nobody approves → exit 1 "expired" at expires_in, nothing stored, no new device request (R50)', async () => {
    const { home, cleanup } = makeHome();
    try {
      const res = await runCli(['login', '--device', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('The device code expired before the sign-in was approved');
      expect(res.stderr).toContain('auth login --device');
      expect(credentialFiles(home)).toEqual([]);
      const started = sandbox.events.find((e) => e.type === 'device_authorization.success')!.at;
      const polls = sandbox.polls();
      expect(polls.length).toBeGreaterThanOrEqual(1);
      // No poll after the code expired: expires_in 2 s at a 1 s interval leaves room for 2 or 3.
      expect(polls.length).toBeLessThanOrEqual(3);
      expect(polls.every((at) => at - started >= 0)).toBe(true);
      expect(sandbox.events.filter((e) => e.type === 'device_authorization.success')).toHaveLength(1);
    } finally {
      cleanup();
    }
  });
});

/* ------------------------------------------------------------------------------------ */
/* A scriptable fake authorization server for what oidc-provider will not produce.       */
/* ------------------------------------------------------------------------------------ */

type TokenStep = 'drop' | { status: number; body: Record<string, unknown> };
interface Fake {
  issuer: string;
  polls: number[];
  deviceRequests: number[];
  close(): Promise<void>;
}

async function startFake(options: { device?: Record<string, unknown> | null; tokens?: TokenStep[] }): Promise<Fake> {
  const polls: number[] = [];
  const deviceRequests: number[] = [];
  const steps = [...(options.tokens ?? [])];
  let issuer = '';
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const path = new URL(req.url ?? '/', issuer).pathname;
      if (path === '/.well-known/openid-configuration') {
        return json(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          ...(options.device === null ? {} : { device_authorization_endpoint: `${issuer}/device_authorization` }),
          code_challenge_methods_supported: ['S256'],
          response_types_supported: ['code'],
        });
      }
      if (path === '/jwks') return json(res, 200, { keys: [] });
      if (path === '/device_authorization' && req.method === 'POST') {
        deviceRequests.push(Date.now());
        return json(res, 200, {
          device_code: 'DC_fake_0123456789abcdef',
          user_code: 'WDJB-MJHT',
          verification_uri: `${issuer}/device`,
          expires_in: 30,
          interval: 1,
          ...options.device,
        });
      }
      if (path === '/token' && req.method === 'POST') {
        polls.push(Date.now());
        const step = steps.shift() ?? { status: 400, body: { error: 'authorization_pending' } };
        if (step === 'drop') return req.socket.destroy();
        return json(res, step.status, step.body);
      }
      json(res, 404, { error: 'not_found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  issuer = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    issuer,
    polls,
    deviceRequests,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const TOKEN_OK = { status: 200, body: { access_token: 'AT_fake_device_token', token_type: 'Bearer', expires_in: 3600, scope: 'api' } };
// ESC/CSI clear-screen, OSC 52 clipboard write ending in BEL, an OSC 8 hyperlink, RTL override, C1 CSI.
const HOSTILE = '\u001b]52;c;ZXZpbA==\u0007\u001b[2J\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\\u202e\u009b31m';
// eslint-disable-next-line no-control-regex -- the control bytes are what the test looks for
const FORBIDDEN_BYTES = /[\u001b\u0007\u009b\u202e]/;

describe('device flow against a scripted fake provider', () => {
  const fakes: Fake[] = [];
  const fake = async (options: Parameters<typeof startFake>[0]) => {
    const f = await startFake(options);
    fakes.push(f);
    return f;
  };
  afterAll(async () => {
    for (const f of fakes) await f.close();
  });
  const login = (issuer: string, extra: string[] = [], env: Record<string, string | undefined> = {}) => {
    const { home, cleanup } = makeHome();
    return runCli(['login', '--scope', 'api', '--issuer', issuer, '--client-id', 'auth-cli', ...extra], { home, env }).finally(cleanup);
  };

  it('a user_code and error_description with escape sequences reach the terminal without ESC/BEL/C1/bidi bytes (R105, R47)', async () => {
    const f = await fake({
      device: { user_code: `WDJB${HOSTILE}-MJHT` },
      tokens: [{ status: 400, body: { error: 'access_denied', error_description: `The user said no ${HOSTILE}` } }],
    });
    const res = await login(f.issuer, ['--device']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('and enter the code: WDJB');
    expect(res.stderr).toContain('access_denied: The user said no');
    expect(res.stderr).not.toMatch(FORBIDDEN_BYTES);
    expect(res.stdout).toBe('');
  });

  it('refuses non-https verification URIs before showing them or polling (R46)', async () => {
    for (const verification_uri of ['javascript:alert(1)', 'http://evil.example/device']) {
      const f = await fake({ device: { verification_uri } });
      const res = await login(f.issuer, ['--device']);
      expect(res.code, verification_uri).not.toBe(0);
      expect(res.stderr).toContain('verification_uri');
      expect(res.stderr).not.toContain('evil.example');
      expect(res.stderr).not.toContain('enter the code');
      await new Promise((r) => setTimeout(r, 300));
      expect(f.polls).toEqual([]);
    }
  });

  it('--device against a provider without a device endpoint → exit 1 naming the alternative', async () => {
    const f = await fake({ device: null });
    const res = await login(f.issuer, ['--device']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('does not support the device flow');
    expect(res.stderr).toContain('auth login --browser');
    expect(f.deviceRequests).toEqual([]);
  });

  it('auto over SSH without a device endpoint prints the URL and waits on the loopback port', async () => {
    const f = await fake({ device: null });
    const res = await login(f.issuer, ['--timeout', '1', '--debug'], { ...NO_BROWSER, SSH_TTY: '/dev/pts/3' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('flow: browser (this is an SSH session, but the provider has no device flow; printing the URL instead)');
    expect(res.stderr).toContain('Open this URL in your browser to sign in:');
    expect(res.stderr).toContain('(Not opening a browser: this is an SSH session.)');
    expect(res.stderr).toContain('Timed out after 1 s');
  });

  it('network errors while polling: the interval doubles each time, then the sign-in completes (R51)', async () => {
    const f = await fake({ tokens: ['drop', 'drop', TOKEN_OK] });
    const { home, cleanup } = makeHome();
    try {
      const res = await runCli(['login', '--device', '--scope', 'api', '--issuer', f.issuer, '--client-id', 'auth-cli'], { home });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toContain('Network error while polling the provider; trying again in 2 s.');
      expect(res.stderr).toContain('Network error while polling the provider; trying again in 4 s.');
      const [first, second, third] = gaps([f.deviceRequests[0]!, ...f.polls]) as [number, number, number];
      console.info(`[device] interval 1 s, two dropped polls: gaps ${first}, ${second}, ${third} ms`);
      expect(first).toBeGreaterThanOrEqual(1000 - TOLERANCE_MS);
      expect(second).toBeGreaterThanOrEqual(2000 - TOLERANCE_MS);
      expect(third).toBeGreaterThanOrEqual(4000 - TOLERANCE_MS);
      const stored = readFileSync(join(home, 'credentials', 'default.json'), 'utf8');
      expect(JSON.parse(stored).access_token).toBe('AT_fake_device_token');
      // R52 with the fake's marked device code.
      expect(res.stderr).not.toContain('DC_fake');
      expect(stored).not.toContain('DC_fake');
    } finally {
      cleanup();
    }
  });

  it('a provider that stays unreachable until the code expires → exit 1 with a network message, nothing stored', async () => {
    const f = await fake({ device: { expires_in: 3 }, tokens: ['drop', 'drop', 'drop', 'drop'] });
    const { home, cleanup } = makeHome();
    try {
      const res = await runCli(['login', '--device', '--scope', 'api', '--issuer', f.issuer, '--client-id', 'auth-cli'], { home });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('Could not reach the provider while waiting for the device sign-in');
      expect(credentialFiles(home)).toEqual([]);
    } finally {
      cleanup();
    }
  });
});

/* ------------------------------------------------------------------------------------ */

const tmux = requireSystem('tmux', tmuxAvailable(), 'tmux is not installed (needed to drive a real terminal)');

describe.skipIf(tmux.skip)('device flow on a real terminal (tmux)', () => {
  let sandbox: Sandbox;
  const panes: TmuxPane[] = [];
  beforeAll(async () => {
    tmux.assertAvailable();
    sandbox = await startSandbox({ deviceInterval: 1 });
  });
  afterAll(async () => {
    for (const p of panes) p.kill();
    await sandbox?.close();
  });

  const run = async (extra: string[]) => {
    const { home, cleanup } = makeHome();
    const pane = new TmuxPane({ ...baseEnv(home), TERM: 'xterm-256color' });
    panes.push(pane);
    try {
      pane.start([process.execPath, BIN, 'login', '--device', '--issuer', sandbox.issuer, '--client-id', 'auth-cli', ...extra].map(sh).join(' '));
      const [, uri, userCode] = await pane.waitFor(PROMPT);
      // The QR code (if any) is written right after the prompt lines.
      await pane.waitFor(/only if you just started this sign-in/);
      await new Promise((r) => setTimeout(r, 300));
      const screen = pane.capture();
      await approveDevice({ verificationUri: uri!, userCode: userCode! });
      expect(await pane.exitCode()).toBe(0);
      return screen;
    } finally {
      pane.kill();
      cleanup();
    }
  };

  it('shows a QR code on a TTY', async () => {
    expect(await run([])).toMatch(/[▄▀█]{8,}/);
  });

  it('--no-qr suppresses it', async () => {
    expect(await run(['--no-qr'])).not.toMatch(/[▄▀█]/);
  });
});
