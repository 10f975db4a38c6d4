import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, BIN, errorLine, makeHome, ROOT, runCli, runTool } from './support/cli.js';

// docs/design.md §2 `auth git-credential` and `auth setup-git`, with a real git cloning over HTTP
// from `git http-backend` behind a server that demands Basic auth whose password the sandbox
// provider accepts (checked at its userinfo endpoint). No mock of git.

const GIT = spawnSync('git', ['--version']).status === 0;
const required = process.env.AUTH_REQUIRE_SYSTEM === '1';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

/** A git smart-HTTP server: Basic auth checked against the provider, then git http-backend (CGI). */
async function startGitServer(root: string, sandbox: Sandbox): Promise<{ port: number; seen: Array<{ user: string; password: string; ok: boolean }>; close(): Promise<void> }> {
  const backend = join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-http-backend');
  const seen: Array<{ user: string; password: string; ok: boolean }> = [];
  const server: Server = createServer(async (req, res) => {
    const auth = req.headers.authorization ?? '';
    const [user = '', password = ''] = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(/:(.*)/s) : [];
    const ok = password !== '' && (await sandbox.userinfo(password)).status === 200;
    seen.push({ user, password, ok });
    if (!ok) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('sign in\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const cgi = spawn(backend, [], {
      env: {
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: user,
        REMOTE_ADDR: '127.0.0.1',
        GATEWAY_INTERFACE: 'CGI/1.1',
        PATH: process.env.PATH,
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    seen,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe.skipIf(!GIT && !required)('git: auth as the credential helper of a real git', () => {
  let sandbox: Sandbox;
  let gitServer: Awaited<ReturnType<typeof startGitServer>>;
  const { home, cleanup } = makeHome('auth-git-');
  const repos = join(home, 'repos');
  const gitConfig = join(home, 'gitconfig');
  let host = '';
  const credFile = join(home, 'credentials', 'default.json');
  const stored = () => JSON.parse(readFileSync(credFile, 'utf8'));
  /** git as a person runs it: the global config under test, never a prompt. */
  const gitEnv = () => ({ ...baseEnv(home), GIT_CONFIG_GLOBAL: gitConfig, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '' });
  // Asynchronous: the git server runs in this process.
  const git = (args: string[], cwd = home) => runTool('git', args, { cwd, env: gitEnv() });
  const helper = (action: string, input: string, env: Record<string, string> = {}) => runCli(['git-credential', action], { home, input, env: { GIT_CONFIG_GLOBAL: gitConfig, ...env } });

  beforeAll(async () => {
    expect(GIT, 'git is not installed (Debian package git)').toBe(true);
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    // A bare repository with one commit, served by git http-backend.
    mkdirSync(repos);
    const work = join(home, 'work');
    mkdirSync(work);
    const plain = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
    const run = (args: string[], cwd: string) => execFileSync('git', args, { cwd, env: plain, encoding: 'utf8' });
    run(['init', '--bare', '--initial-branch=main', join(repos, 'repo.git')], home);
    run(['init', '--initial-branch=main'], work);
    writeFileSync(join(work, 'README'), 'hello from the test repository\n');
    run(['add', 'README'], work);
    run(['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-m', 'first'], work);
    run(['push', join(repos, 'repo.git'), 'main'], work);
    gitServer = await startGitServer(repos, sandbox);
    host = `127.0.0.1:${gitServer.port}`;
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
  });
  afterAll(async () => {
    await gitServer?.close();
    await sandbox?.close();
    cleanup();
  });

  it('without auth, the server refuses the clone (the control)', async () => {
    const res = await git(['clone', `http://${host}/repo.git`, 'refused']);
    expect(res.status).not.toBe(0);
    expect(existsSync(join(home, 'refused', 'README'))).toBe(false);
  });

  it('setup-git --dry-run shows the change and changes nothing', async () => {
    const res = await runCli(['setup-git', '--host', host, '--dry-run'], { home, env: { GIT_CONFIG_GLOBAL: gitConfig } });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain(`credential.http://${host}.helper would set to:`);
    expect(existsSync(gitConfig)).toBe(false);
    expect(readFileSync(join(home, 'config.yaml'), 'utf8')).not.toContain(host);
  });

  it('setup-git records the host in the profile and the helper in the global git config (empty helper first), idempotently', async () => {
    const res = await runCli(['setup-git', '--host', host], { home, env: { GIT_CONFIG_GLOBAL: gitConfig } });
    expect(res.code, res.stderr).toBe(0);
    expect(readFileSync(join(home, 'config.yaml'), 'utf8')).toMatch(new RegExp(`git:\\s+hosts:\\s+- "?${host.replace('.', '\\.')}`));
    for (const scheme of ['https', 'http']) {
      const helpers = (await git(['config', '--global', '--get-all', `credential.${scheme}://${host}.helper`])).stdout.split('\n').filter((l, i, a) => i < a.length - 1);
      expect(helpers).toEqual(['', `!'${BIN}' git-credential`]);
    }
    const before = readFileSync(gitConfig, 'utf8');
    const again = await runCli(['setup-git', '--host', host], { home, env: { GIT_CONFIG_GLOBAL: gitConfig } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already set up; nothing changed');
    expect(readFileSync(gitConfig, 'utf8')).toBe(before);
  });

  it('git clone over HTTP succeeds with the access token as the password; after the token expired, git gets a refreshed one', async () => {
    const res = await git(['clone', `http://${host}/repo.git`, 'clone1']);
    expect(res.status, res.stderr).toBe(0);
    expect(readFileSync(join(home, 'clone1', 'README'), 'utf8')).toBe('hello from the test repository\n');
    const used = gitServer.seen.filter((s) => s.ok);
    expect(used.length).toBeGreaterThan(0);
    expect(used.every((s) => s.user === 'oauth2' && s.password === stored().access_token)).toBe(true);

    const old = stored().access_token;
    writeFileSync(credFile, JSON.stringify({ ...stored(), expires_at: Math.floor(Date.now() / 1000) - 5 }), { mode: 0o600 });
    const refreshes = sandbox.grants('refresh_token');
    const again = await git(['clone', `http://${host}/repo.git`, 'clone2']);
    expect(again.status, again.stderr).toBe(0);
    expect(sandbox.grants('refresh_token')).toBe(refreshes + 1);
    expect(stored().access_token).not.toBe(old);
    expect(gitServer.seen.at(-1)).toMatchObject({ password: stored().access_token, ok: true });
  });

  it('get: the credential protocol exactly — username, password, password_expiry_utc; unknown keys ignored', async () => {
    const res = await helper('get', `protocol=http\nhost=${host}\npath=repo.git\nwwwauth[]=Basic realm="git"\ncapability[]=authtype\n\n`);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`username=oauth2\npassword=${stored().access_token}\npassword_expiry_utc=${stored().expires_at}\n`);
  });

  it('get is answered by the warm path (dist/main.cjs never loaded), byte for byte as the full CLI answers it', async () => {
    const request = `protocol=http\nhost=${host}\npath=repo.git\n\n`;
    await helper('get', request); // the full CLI indexes config.yaml after setup-git changed it
    const out = join(home, 'probe');
    const warm = await helper('get', request, { NODE_OPTIONS: `--require ${join(ROOT, 'test', 'support', 'fast-probe.cjs')}`, AUTH_PROBE_OUT: out });
    expect(readFileSync(out, 'utf8').trim()).toBe('fast');
    const full = await helper('get', request, { AUTH_DEBUG: '1' });
    expect(warm.code).toBe(0);
    expect(warm.stdout).toBe(full.stdout);
    expect(warm.stdout).toContain(`password=${stored().access_token}\n`);
    // An unknown host is answered there too: nothing, exit 0.
    const other = await helper('get', 'protocol=https\nhost=elsewhere.example\n\n', { NODE_OPTIONS: `--require ${join(ROOT, 'test', 'support', 'fast-probe.cjs')}`, AUTH_PROBE_OUT: out });
    expect(other.stdout).toBe('');
    expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual(['fast', 'fast']);
  });

  it('get for a host no profile serves: nothing on stdout or stderr, exit 0 (git asks its next helper)', async () => {
    const res = await helper('get', 'protocol=https\nhost=github.com\n\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe('');
  });

  it('a served host over plain http to another machine gets no token', async () => {
    writeFileSync(join(home, 'config.yaml'), readFileSync(join(home, 'config.yaml'), 'utf8').replace(`- ${host}`, `- ${host}\n        - git.example.com`).replace(`- "${host}"`, `- "${host}"\n        - git.example.com`));
    const res = await helper('get', 'protocol=http\nhost=git.example.com\n\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/https only/);
  });

  it('erase with the current token marks it rejected: the next get refreshes; store is a no-op', async () => {
    const current = stored().access_token;
    expect((await helper('store', `protocol=http\nhost=${host}\nusername=oauth2\npassword=${current}\n\n`)).code).toBe(0);
    expect(stored().access_token).toBe(current);
    // A password that is not the stored token changes nothing.
    expect((await helper('erase', `protocol=http\nhost=${host}\nusername=oauth2\npassword=something-else\n\n`)).code).toBe(0);
    expect(stored().access_token).toBe(current);
    const erased = await helper('erase', `protocol=http\nhost=${host}\nusername=oauth2\npassword=${current}\n\n`);
    expect(erased.code, erased.stderr).toBe(0);
    const refreshes = sandbox.grants('refresh_token');
    const res = await helper('get', `protocol=http\nhost=${host}\n\n`);
    expect(res.code, res.stderr).toBe(0);
    expect(sandbox.grants('refresh_token')).toBe(refreshes + 1);
    expect(res.stdout).toContain(`password=${stored().access_token}\n`);
    expect(stored().access_token).not.toBe(current);
  });

  it('not logged in: nothing on stdout, one stderr line naming `auth login -p default`, exit 0; never a prompt', async () => {
    const out = await runCli(['logout', '--no-revoke'], { home });
    expect(out.code, out.stderr).toBe(0);
    const res = await helper('get', `protocol=http\nhost=${host}\n\n`);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('auth login -p default');
    // git then fails with its own message (no prompt: GIT_TERMINAL_PROMPT=0).
    const clone = await git(['clone', `http://${host}/repo.git`, 'clone3']);
    expect(clone.status).not.toBe(0);
    expect(errorLine(res.stderr)).toBe('');
  });
});
