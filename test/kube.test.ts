import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, makeHome, runCli, runTool } from './support/cli.js';

// docs/design.md §2 `auth setup-kube` and `auth token --format exec-credential`, with a real
// kubectl calling a test HTTPS API server (self-signed CA in the kubeconfig) that demands a
// Bearer token the sandbox provider accepts (checked at its userinfo endpoint). No mock of kubectl.

const has = (cmd: string, args: string[]) => spawnSync(cmd, args).status === 0;
const KUBECTL = has('kubectl', ['version', '--client']);
const OPENSSL = has('openssl', ['version']);
const required = process.env.AUTH_REQUIRE_SYSTEM === '1';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

describe.skipIf((!KUBECTL || !OPENSSL) && !required)('kubectl: auth as the exec credential plugin of a real kubectl', () => {
  let sandbox: Sandbox;
  let api: Server;
  const seen: Array<{ token: string; ok: boolean }> = [];
  const { home, cleanup } = makeHome('auth-kube-');
  const kubeconfig = join(home, 'kube', 'config');
  const credFile = join(home, 'credentials', 'default.json');
  const stored = () => JSON.parse(readFileSync(credFile, 'utf8'));
  // Asynchronous: the API server runs in this process.
  const kubectl = (args: string[]) => runTool('kubectl', args, { env: { ...baseEnv(home), KUBECONFIG: kubeconfig } });
  let caPem = '';
  let port = 0;

  beforeAll(async () => {
    expect(KUBECTL, 'kubectl is not installed (Debian package kubernetes-client)').toBe(true);
    expect(OPENSSL, 'openssl is not installed').toBe(true);
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(home, 'key.pem'), '-out', join(home, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    caPem = readFileSync(join(home, 'cert.pem'), 'utf8');
    api = createServer({ key: readFileSync(join(home, 'key.pem')), cert: caPem }, async (req, res) => {
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      const ok = token !== '' && (await sandbox.userinfo(token)).status === 200;
      seen.push({ token, ok });
      res.setHeader('content-type', 'application/json');
      if (!ok) {
        res.writeHead(401).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
        return;
      }
      if (req.url?.split('?')[0] === '/api') {
        res.end(JSON.stringify({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}` }] }));
      } else {
        res.writeHead(404).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 }));
      }
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    port = (api.address() as { port: number }).port;
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
    // A kubeconfig as people have them: a comment, a cluster, a context, another user.
    execFileSync('mkdir', ['-p', join(home, 'kube')]);
    writeFileSync(
      kubeconfig,
      [
        '# my clusters (this comment stays)',
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: test',
        '  cluster:',
        `    server: https://127.0.0.1:${port}`,
        `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
        'contexts:',
        '- name: test',
        '  context:',
        '    cluster: test',
        '    user: someone-else',
        'current-context: test',
        'users:',
        '- name: someone-else # keep me',
        '  user:',
        '    token: not-a-real-token',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  });
  afterAll(async () => {
    await new Promise((resolve) => api?.close(resolve));
    await sandbox?.close();
    cleanup();
  });

  it('before setup-kube, the API server refuses kubectl (the control)', async () => {
    const res = await kubectl(['get', '--raw', '/api']);
    expect(res.status).not.toBe(0);
  });

  it('setup-kube --dry-run changes nothing', async () => {
    const before = readFileSync(kubeconfig, 'utf8');
    const res = await runCli(['setup-kube', '--context', 'test', '--dry-run'], { home, env: { KUBECONFIG: kubeconfig } });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('Would add user auth-default');
    expect(readFileSync(kubeconfig, 'utf8')).toBe(before);
  });

  it('setup-kube writes the exec user, points the context at it, keeps every other entry and comment; idempotent', async () => {
    const res = await runCli(['setup-kube', '--context', 'test'], { home, env: { KUBECONFIG: kubeconfig } });
    expect(res.code, res.stderr).toBe(0);
    const text = readFileSync(kubeconfig, 'utf8');
    expect(text).toContain('# my clusters (this comment stays)');
    expect(text).toContain('- name: someone-else # keep me');
    const cfg = parse(text);
    expect(cfg.contexts[0].context.user).toBe('auth-default');
    const user = cfg.users.find((u: { name: string }) => u.name === 'auth-default');
    expect(user.user.exec).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      command: expect.stringMatching(/\/bin\/auth\.js$/),
      args: ['token', '--format', 'exec-credential', '-p', 'default'],
      interactiveMode: 'IfAvailable',
      provideClusterInfo: false,
    });
    expect(existsSync(user.user.exec.command)).toBe(true);
    const again = await runCli(['setup-kube', '--context', 'test'], { home, env: { KUBECONFIG: kubeconfig } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already runs auth');
    expect(readFileSync(kubeconfig, 'utf8')).toBe(text);
  });

  it('kubectl get --raw /api succeeds through the plugin with the access token; after the token expired, through a refresh', async () => {
    const res = await kubectl(['get', '--raw', '/api']);
    expect(res.status, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).kind).toBe('APIVersions');
    expect(seen.filter((s) => s.ok).at(-1)?.token).toBe(stored().access_token);

    const old = stored().access_token;
    writeFileSync(credFile, JSON.stringify({ ...stored(), expires_at: Math.floor(Date.now() / 1000) - 5 }), { mode: 0o600 });
    const refreshes = sandbox.grants('refresh_token');
    const again = await kubectl(['get', '--raw', '/api']);
    expect(again.status, again.stderr).toBe(0);
    expect(sandbox.grants('refresh_token')).toBe(refreshes + 1);
    expect(stored().access_token).not.toBe(old);
    expect(seen.at(-1)).toEqual({ token: stored().access_token, ok: true });
  });

  it('--id-token and --user write a second user whose plugin asks for the ID token', async () => {
    const res = await runCli(['setup-kube', '--id-token', '--user', 'oidc'], { home, env: { KUBECONFIG: kubeconfig } });
    expect(res.code, res.stderr).toBe(0);
    const cfg = parse(readFileSync(kubeconfig, 'utf8'));
    expect(cfg.users.map((u: { name: string }) => u.name)).toEqual(['someone-else', 'auth-default', 'oidc']);
    expect(cfg.users[2].user.exec.args).toEqual(['token', '--format', 'exec-credential', '-p', 'default', '--id-token']);
    expect(cfg.contexts[0].context.user).toBe('auth-default');
  });

  it('a context that does not exist is a usage error; the file is untouched', async () => {
    const before = readFileSync(kubeconfig, 'utf8');
    const res = await runCli(['setup-kube', '--context', 'nope'], { home, env: { KUBECONFIG: kubeconfig } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: There is no context nope/m);
    expect(readFileSync(kubeconfig, 'utf8')).toBe(before);
  });
});
