import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startSandbox } from '../sandbox/provider.mjs';
import { errorLine, makeHome, runCli, type CliResult } from './support/cli.js';

// `auth agent` (docs/design.md "auth agent"): the socket rules, tokens served from memory with
// the same bytes and exit codes as without an agent, a silent fallback when it is gone, the
// background refresh and the lock it shares with one-shot processes, MFA, grants, and the wipe.

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('auth agent', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-agent-');
  const logFile = join(home, 'agent-events.log');
  const sock = join(home, 'agent.sock');
  const credFile = join(home, 'credentials', 'default.json');
  const started: number[] = [];
  const temps: string[] = [];
  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    temps.push(dir);
    return dir;
  };
  const cli = (args: string[], env: Record<string, string | undefined> = {}, input?: string) =>
    runCli(args, { home, env: { AUTH_AGENT_LOG: logFile, ...env }, ...(input === undefined ? {} : { input }) });
  /** The same command with no agent in sight (another socket path). */
  const noAgent = (args: string[], env: Record<string, string | undefined> = {}, input?: string) => cli(args, { AUTH_AGENT_SOCK: join(home, 'none', 'agent.sock'), ...env }, input);
  const stored = () => JSON.parse(readFileSync(credFile, 'utf8')) as Record<string, unknown>;

  async function start(env: Record<string, string | undefined> = {}): Promise<number> {
    const res = await cli(['agent', 'start'], env);
    expect(res.code, res.stderr).toBe(0);
    const st = await cli(['agent', 'status', '--json'], env);
    expect(st.code, st.stderr).toBe(0);
    const pid = (JSON.parse(st.stdout) as { pid: number }).pid;
    started.push(pid);
    return pid;
  }
  async function stop(): Promise<void> {
    const res = await cli(['agent', 'stop']);
    expect(res.code, res.stderr).toBe(0);
  }

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
    // A git host for `auth git-credential get`.
    const file = join(home, 'config.yaml');
    const config = parse(readFileSync(file, 'utf8')) as { profiles: Record<string, Record<string, unknown>> };
    config.profiles.default!.git = { hosts: ['git.example.com'] };
    writeFileSync(file, stringify(config));
  });
  afterEach(() => {
    for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(sock, { force: true });
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  it('start: a 0600 socket and key in a 0700 directory (created when missing); status; stop wipes and ends the process', async () => {
    const dir = join(tempDir('auth-agent-dir-'), 'run', 'authcli');
    const env = { AUTH_AGENT_SOCK: join(dir, 'agent.sock') };
    const res = await cli(['agent', 'start'], env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${join(dir, 'agent.sock')}\n`);
    const st = JSON.parse((await cli(['agent', 'status', '--json'], env)).stdout) as { running: boolean; pid: number; socket: string };
    started.push(st.pid);
    expect(st.running).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'agent.sock')).isSocket()).toBe(true);
    expect(statSync(join(dir, 'agent.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'agent.key')).mode & 0o777).toBe(0o600);
    // A second start says so; `run` refuses.
    const again = await cli(['agent', 'start'], env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already running');
    const run = await cli(['agent', 'run'], env);
    expect(run.code).toBe(1);
    expect(errorLine(run.stderr)).toContain('already running');

    const stopped = await cli(['agent', 'stop'], env);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(alive(st.pid)).toBe(false);
    expect(existsSync(join(dir, 'agent.sock'))).toBe(false);
    expect(existsSync(join(dir, 'agent.key'))).toBe(false);
    const after = await cli(['agent', 'status'], env);
    expect(after.code).toBe(1);

    // SIGTERM wipes the same way.
    expect((await cli(['agent', 'start'], env)).code).toBe(0);
    const pid = (JSON.parse((await cli(['agent', 'status', '--json'], env)).stdout) as { pid: number }).pid;
    started.push(pid);
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && alive(pid); i++) await sleep(25);
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(dir, 'agent.sock'))).toBe(false);
    expect(existsSync(join(dir, 'agent.key'))).toBe(false);
  });

  it('refuses a group/world-writable directory and a socket path owned by someone else', async () => {
    const open = tempDir('auth-agent-open-');
    chmodSync(open, 0o777);
    const res = await cli(['agent', 'start'], { AUTH_AGENT_SOCK: join(open, 'agent.sock') });
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toContain(open);
    expect(errorLine(res.stderr)).toContain('chmod 700');
    expect(existsSync(join(open, 'agent.sock'))).toBe(false);

    if (process.getuid?.() !== 0) return;
    const dir = tempDir('auth-agent-foreign-');
    const foreign = join(dir, 'agent.sock');
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(foreign, r));
    try {
      chownSync(foreign, 65534, 65534);
      const refused = await cli(['agent', 'run'], { AUTH_AGENT_SOCK: foreign });
      expect(refused.code).toBe(1);
      expect(errorLine(refused.stderr)).toContain(foreign);
      expect(errorLine(refused.stderr)).toContain('another user');
    } finally {
      server.close();
    }
  });

  it('serves every format, git-credential and exec with the same bytes and exit codes as without it — from memory (the store moved away)', async () => {
    const execInfo = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', spec: { interactive: false } });
    const cases: Array<{ args: string[]; env?: Record<string, string>; input?: string }> = [
      { args: ['token'] },
      { args: ['token', '--format', 'json'] },
      { args: ['token', '--format', 'env'] },
      { args: ['token', '--format', 'header'] },
      { args: ['token', '--format', 'exec-credential'], env: { KUBERNETES_EXEC_INFO: execInfo } },
      { args: ['token', '--id-token'] },
      { args: ['token', '--id-token', '--format', 'exec-credential'] },
      { args: ['token', '-p', 'nobody'] },
      { args: ['git-credential', 'get'], input: 'protocol=https\nhost=git.example.com\n\n' },
      { args: ['git-credential', 'get'], input: 'protocol=https\nhost=other.example.com\n\n' },
      { args: ['exec', '--', 'sh', '-c', 'printf "%s" "$AUTH_TOKEN"'] },
    ];
    const plain: CliResult[] = await Promise.all(cases.map((c) => noAgent(c.args, c.env, c.input)));
    expect(plain[0]!.code).toBe(0);
    expect(plain[7]!.code).toBe(4);

    await start();
    expect((await cli(['token'])).stdout).toBe(plain[0]!.stdout); // the agent loads the profile
    // Without the stored credential, only an agent holding it in memory can answer.
    renameSync(credFile, `${credFile}.away`);
    try {
      expect((await noAgent(['token'])).code).toBe(4);
      const viaAgent = await Promise.all(cases.map((c) => cli(c.args, c.env, c.input)));
      for (const [i, c] of cases.entries()) {
        const res = viaAgent[i]!;
        expect([res.code, res.stdout], `auth ${c.args.join(' ')}`).toEqual([plain[i]!.code, plain[i]!.stdout]);
        if (plain[i]!.code !== 0) expect(errorLine(res.stderr)).toBe(errorLine(plain[i]!.stderr));
      }
    } finally {
      renameSync(`${credFile}.away`, credFile);
    }
    expect(readFileSync(logFile, 'utf8')).toMatch(/served op=git profile=default caller=local/);
  });

  it('falls back silently when the agent is killed (-9, socket left behind); a new start replaces the stale socket', async () => {
    const before = await noAgent(['token', '--format', 'json']);
    const pid = await start();
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(20);
    expect(statSync(sock).isSocket()).toBe(true);
    const res = await cli(['token', '--format', 'json']);
    expect([res.code, res.stdout, res.stderr]).toEqual([0, before.stdout, '']);
    const exec = await cli(['exec', '--', 'sh', '-c', 'printf "%s" "$AUTH_TOKEN"']);
    expect(exec.stdout).toBe((JSON.parse(before.stdout) as { access_token: string }).access_token);
    const again = await start();
    expect(again).not.toBe(pid);
    expect((await cli(['token', '--format', 'json'])).stdout).toBe(before.stdout);
    await stop();
  });

  it('notices logout and login in other processes', async () => {
    await start();
    const first = await cli(['token']);
    expect(first.code).toBe(0);
    const out = await noAgent(['logout']);
    expect(out.code, out.stderr).toBe(0);
    const gone = await cli(['token']);
    const goneWithout = await noAgent(['token']);
    expect([gone.code, gone.stdout, errorLine(gone.stderr)]).toEqual([4, '', errorLine(goneWithout.stderr)]);
    const login = await noAgent(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli']);
    expect(login.code, login.stderr).toBe(0);
    const next = await cli(['token']);
    expect(next.code).toBe(0);
    expect(next.stdout).toBe(`${String(stored().access_token)}\n`);
    expect(next.stdout).not.toBe(first.stdout);
    await stop();
  });

  it('refreshes in the background, observed at the provider, under the lock one-shot processes take: one grant', async () => {
    await start();
    /** A stored token due now (its half-life has passed) but valid for 70 s more; the change stamp tells the agent to reload. */
    const makeDue = () => {
      const now = Math.floor(Date.now() / 1000);
      writeFileSync(credFile, JSON.stringify({ ...stored(), expires_at: now + 70, obtained_at: now - 70 }), { mode: 0o600 });
      writeFileSync(join(home, 'changes', 'default'), `test-${Date.now()}\n`);
    };
    const waitForGrant = async (after: number) => {
      const deadline = Date.now() + 20_000;
      while (sandbox.grants('refresh_token') === after && Date.now() < deadline) await sleep(100);
      await sleep(300);
    };

    // Alone: the agent serves the still-valid token (--min-ttl 0 needs no refresh), then refreshes it by itself.
    makeDue();
    const old = `${String(stored().access_token)}\n`;
    let grants = sandbox.grants('refresh_token');
    const served = await cli(['token', '--min-ttl', '0']);
    expect(served.stdout).toBe(old);
    await waitForGrant(grants);
    expect(sandbox.grants('refresh_token') - grants).toBe(1);
    expect(readFileSync(logFile, 'utf8')).toContain('refreshed profile=default (background)');
    expect(`${String(stored().access_token)}\n`).not.toBe(old);

    // Racing three one-shot processes that see the same token due: they share the profile lock, one grant in all.
    makeDue();
    grants = sandbox.grants('refresh_token');
    const [first, ...oneShots] = await Promise.all([cli(['token', '--min-ttl', '0']), noAgent(['token']), noAgent(['token']), noAgent(['refresh'])]);
    expect(first.code, first.stderr).toBe(0);
    for (const r of oneShots) expect(r.code, r.stderr).toBe(0);
    await waitForGrant(grants);
    expect(sandbox.grants('refresh_token') - grants).toBe(1);
    const fresh = `${String(stored().access_token)}\n`;
    expect(oneShots[0]!.stdout).toBe(fresh);
    expect((await cli(['token'])).stdout).toBe(fresh);
    const st = JSON.parse((await cli(['agent', 'status', '--json'])).stdout) as { profiles: Array<{ name: string; nextRefreshAt: string }> };
    expect(Date.parse(st.profiles[0]!.nextRefreshAt)).toBeGreaterThan(Date.now() + 60_000);
    await stop();
  });

  it('backs off when the provider cannot be reached: the credential stays, the next attempt is 30 s later', async () => {
    const flaky = await startSandbox({ accessTokenTTL: 3600 });
    let closed = false;
    try {
      const login = await cli(['login', '-p', 'flaky', '--issuer', flaky.issuer, '--client-id', 'auth-cli']);
      expect(login.code, login.stderr).toBe(0);
      await start();
      const file = join(home, 'credentials', 'flaky.json');
      const before = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      expect((await cli(['token', '-p', 'flaky'])).stdout).toBe(`${String(before.access_token)}\n`);
      // Due now, valid 70 s more; then the provider goes away.
      const now = Math.floor(Date.now() / 1000);
      writeFileSync(file, JSON.stringify({ ...before, expires_at: now + 70, obtained_at: now - 70 }), { mode: 0o600 });
      await flaky.close();
      closed = true;
      writeFileSync(join(home, 'changes', 'flaky'), `test-${Date.now()}\n`);
      const failedAt = Date.now();
      // The agent loads the change on its next request, finds the token due and tries at once.
      expect((await cli(['token', '-p', 'flaky', '--min-ttl', '0'])).code).toBe(0);
      const deadline = Date.now() + 30_000;
      while (!readFileSync(logFile, 'utf8').includes('backing off profile=flaky') && Date.now() < deadline) await sleep(200);
      expect(readFileSync(logFile, 'utf8')).toMatch(/refresh failed profile=flaky AUTH_NETWORK\n.*backing off profile=flaky: next attempt in 30 s/);
      const st = JSON.parse((await cli(['agent', 'status', '--json'])).stdout) as { profiles: Array<{ name: string; nextRefreshAt: string }> };
      const next = Date.parse(st.profiles.find((p) => p.name === 'flaky')!.nextRefreshAt);
      expect(next).toBeGreaterThanOrEqual(failedAt + 29_000);
      // Nothing was lost: the stored credential is the one it had, and is still served.
      expect(JSON.parse(readFileSync(file, 'utf8')).refresh_token).toBe(before.refresh_token);
      const served = await cli(['token', '-p', 'flaky', '--min-ttl', '0']);
      expect(served.stdout).toBe(`${String(before.access_token)}\n`);
      await stop();
    } finally {
      if (!closed) await flaky.close();
      rmSync(join(home, 'credentials', 'flaky.json'), { force: true });
      expect((await cli(['profiles', 'remove', 'flaky'])).code).toBe(0);
    }
  });

  it('MFA: a locked profile is deferred to the normal path (same failure); an open window is served', async () => {
    const stateFile = join(home, 'mfa', 'default.json');
    mkdirSync(join(home, 'mfa'), { recursive: true, mode: 0o700 });
    const state = (unlockedUntil: number) => JSON.stringify({ v: 1, secretId: 'test', store: 'file', enabledAt: Date.now() - 60_000, lastStep: 0, failures: 0, lockedUntil: 0, unlockedUntil, requireBackup: false });
    await start();
    try {
      writeFileSync(stateFile, state(0), { mode: 0o600 });
      const locked = await cli(['token']);
      const lockedWithout = await noAgent(['token']);
      expect(locked.code).not.toBe(0);
      expect([locked.code, locked.stdout, errorLine(locked.stderr)]).toEqual([lockedWithout.code, '', errorLine(lockedWithout.stderr)]);
      writeFileSync(stateFile, state(Date.now() + 600_000), { mode: 0o600 });
      renameSync(credFile, `${credFile}.away`);
      try {
        const open = await cli(['token']);
        expect(open.code, open.stderr).toBe(0);
        expect(open.stdout.length).toBeGreaterThan(10);
      } finally {
        renameSync(`${credFile}.away`, credFile);
      }
    } finally {
      rmSync(stateFile, { force: true });
    }
    await stop();
  });

  it('grants: one profile only, no refresh token, revocable, expiring, rate-limited; listed without the token', async () => {
    await start();
    const grant = await cli(['agent', 'grant', '--ttl', '10m']);
    expect(grant.code, grant.stderr).toBe(0);
    const token = grant.stdout.trim();
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16);
    const id = /Grant (\w+) for profile default/.exec(grant.stderr)![1]!;
    // The far side: no credentials of its own, only the socket and the grant token.
    const { home: remote, cleanup: cleanRemote } = makeHome('auth-agent-remote-');
    try {
      const far = (args: string[], t = token) => runCli(args, { home: remote, env: { AUTH_AGENT_SOCK: sock, AUTH_AGENT_TOKEN: t } });
      const json = await far(['token', '--format', 'json']);
      expect(json.code, json.stderr).toBe(0);
      expect(json.stdout).toBe((await noAgent(['token', '--format', 'json'])).stdout);
      expect(json.stdout).not.toContain(String(stored().refresh_token));
      const other = await far(['token', '-p', 'work']);
      expect(other.code).toBe(4);
      expect(errorLine(other.stderr)).toContain('covers profile default only');

      const list = await cli(['agent', 'grants', '--json']);
      expect(list.stdout).not.toContain(token);
      expect((JSON.parse(list.stdout) as { grants: Array<{ id: string; profile: string }> }).grants).toEqual([expect.objectContaining({ id, profile: 'default' })]);

      expect((await cli(['agent', 'revoke', id])).code).toBe(0);
      const revoked = await far(['token']);
      expect(revoked.code).toBe(4);
      expect(errorLine(revoked.stderr)).toContain('unknown or revoked');
      const unknown = await cli(['agent', 'revoke', id]);
      expect(unknown.code).toBe(1);
      expect(errorLine(unknown.stderr)).toContain(`no grant with id ${id}`);
      const badTtl = await cli(['agent', 'grant', '--ttl', '31d']);
      expect(badTtl.code).toBe(2);
      expect(errorLine(badTtl.stderr)).toContain('--ttl');

      const short = (await cli(['agent', 'grant', '--ttl', '1s'])).stdout.trim();
      await sleep(1100);
      expect(errorLine((await far(['token'], short)).stderr)).toContain('expired');

      const good = (await cli(['agent', 'grant'])).stdout.trim();
      // `short` was the first failure; ten more wrong tokens make eleven in the minute.
      const wrong = await Promise.all(Array.from({ length: 10 }, (_, i) => far(['token'], `wrong-${i}`)));
      for (const w of wrong) expect(w.code).toBe(4);
      const throttled = await far(['token'], good);
      expect(throttled.code).toBe(4);
      expect(errorLine(throttled.stderr)).toContain('too many failed grant presentations');
      expect((await cli(['token'])).code).toBe(0); // local callers are not affected

      const log = readFileSync(logFile, 'utf8');
      for (const secret of [token, short, good, String(stored().access_token), String(stored().refresh_token)]) expect(log).not.toContain(secret);
      expect(statSync(logFile).mode & 0o777).toBe(0o600);
    } finally {
      cleanRemote();
    }
    await stop();
  });

  it('the protocol: a versioned JSON line, 64 KiB at most, a connection that sends no request is closed', async () => {
    await start();
    /** Sends `payload` on a fresh connection; resolves with what came back once the agent closed it (or `waitMs` passed). */
    const exchange = (payload: string | Buffer, waitMs = 60_000) =>
      new Promise<{ reply: string; closedByAgent: boolean }>((resolve, reject) => {
        const c = connect(sock);
        let reply = '';
        const timer = setTimeout(() => {
          c.destroy();
          resolve({ reply, closedByAgent: false });
        }, waitMs);
        c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
        c.setEncoding('utf8').on('data', (d: string) => {
          reply += d;
          // One answer per line: done once it is here.
          if (reply.endsWith('\n')) {
            clearTimeout(timer);
            c.destroy();
            resolve({ reply, closedByAgent: false });
          }
        });
        c.on('close', () => {
          clearTimeout(timer);
          resolve({ reply, closedByAgent: true });
        });
        c.on('connect', () => payload.length && c.write(payload));
      });

    const version = await exchange(`${JSON.stringify({ v: 999, op: 'ping' })}\n`);
    expect(JSON.parse(version.reply)).toMatchObject({ ok: false, exit: 2, error: expect.stringMatching(/unsupported protocol version 999 \(this agent speaks 1\)/) });
    const garbage = await exchange('not json\n');
    expect(JSON.parse(garbage.reply)).toMatchObject({ ok: false, exit: 2, error: 'the request is not JSON' });
    // No key: answered, refused, nothing served.
    const noKey = await exchange(`${JSON.stringify({ v: 1, op: 'token', minTtl: 300, idToken: false, format: 'raw' })}\n`);
    expect(JSON.parse(noKey.reply)).toMatchObject({ ok: false, exit: 4 });
    expect(noKey.reply).not.toContain(String(stored().access_token));

    // Over 64 KiB without a newline: the agent hangs up without an answer.
    const long = await exchange(Buffer.alloc(70 * 1024, 0x61));
    expect(long).toEqual({ reply: '', closedByAgent: true });
    // A connection that never sends a request, or half of one, is closed by the agent (after about 10 s).
    const [silent, half] = await Promise.all([exchange('', 60_000), exchange('{"v":1,', 60_000)]);
    expect(silent).toEqual({ reply: '', closedByAgent: true });
    expect(half).toEqual({ reply: '', closedByAgent: true });

    // It still serves.
    const after = await cli(['token']);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toBe(`${String(stored().access_token)}\n`);
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('refused: request line over 64 KiB');
    expect(log).toContain('closed: no complete request within 10 s');
    await stop();
  });

  it('auth status shows whether the agent serves each profile; unchanged without an agent', async () => {
    const without = await cli(['status', '--json']);
    expect(JSON.parse(without.stdout).profiles[0]).not.toHaveProperty('agent');
    await start();
    await cli(['token']);
    const text = await cli(['status']);
    expect(text.stderr).toMatch(/Agent:\s+serving \(next refresh in \d+ minutes\)/);
    const json = JSON.parse((await cli(['status', '--json'])).stdout) as { profiles: Array<{ agent: { serving: boolean; nextRefreshAt: string } }> };
    expect(json.profiles[0]!.agent.serving).toBe(true);
    await stop();
    const after = await cli(['status']);
    expect(after.stderr).not.toContain('Agent:');
  });
});
