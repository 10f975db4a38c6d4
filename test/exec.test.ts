import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, runCli, spawnCli } from './support/cli.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// docs/design.md §2 `auth exec [--env NAME] -- cmd args…`, docs/security.md R85: the token
// reaches the child through its environment only.
const node = process.execPath;

async function waitForFile(path: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path) || !readFileSync(path, 'utf8').trim()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return readFileSync(path, 'utf8').trim();
}

describe('auth exec', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-exec-');
  const credFile = join(home, 'credentials', 'default.json');
  const storedToken = () => JSON.parse(readFileSync(credFile, 'utf8')).access_token as string;

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  it('puts the access token in $AUTH_TOKEN and exits with the child\'s code', async () => {
    const res = await runCli(['exec', '--', node, '-e', 'process.stdout.write(process.env.AUTH_TOKEN ?? "none"); process.exit(7)'], { home });
    expect(res.code).toBe(7);
    expect(res.stdout).toBe(storedToken());
    expect(res.stderr).toBe('');
    expect((await sandbox.userinfo(res.stdout)).status).toBe(200);
  });

  it('--env NAME chooses the variable; AUTH_TOKEN is then not set', async () => {
    const res = await runCli(['exec', '--env', 'GITHUB_TOKEN', '--', node, '-e', 'console.log(JSON.stringify([process.env.GITHUB_TOKEN, process.env.AUTH_TOKEN ?? null]))'], { home });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([storedToken(), null]);
  });

  it('stdin, stdout and stderr are the child\'s; arguments pass through untouched', async () => {
    const script = join(home, 'echo-args.js');
    writeFileSync(script, 'process.stdin.pipe(process.stdout); console.error(JSON.stringify(process.argv.slice(2)));');
    const res = await runCli(['exec', '--', node, script, '-x', 'a b', '--format', '--', '-p'], { home, input: 'piped input\n' });
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('piped input\n');
    expect(JSON.parse(res.stderr)).toEqual(['-x', 'a b', '--format', '--', '-p']);
  });

  it('the token is in no process\'s argv — neither the child\'s nor auth\'s — only in the child\'s environment (R85)', async () => {
    if (process.platform !== 'linux') return; // /proc
    const pidFile = join(home, 'child.pid');
    const child = spawnCli(['exec', '--', node, '-e', `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`], { home });
    const pid = await waitForFile(pidFile);
    const token = storedToken();
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const authCmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(cmdline).toContain('setInterval');
    expect(cmdline).not.toContain(token);
    expect(authCmdline).not.toContain(token);
    expect(environ).toContain(`AUTH_TOKEN=${token}`);
    child.kill('SIGTERM');
    const res = await child.result;
    // SIGTERM to auth is forwarded; the child dies of it; auth reports 128 + 15.
    expect(res.code).toBe(143);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('SIGINT is forwarded: a child that handles it decides the exit code', async () => {
    const ready = join(home, 'sigint.ready');
    const child = spawnCli(['exec', '--', node, '-e', `process.on("SIGINT", () => { console.log("got SIGINT"); process.exit(42); }); require("fs").writeFileSync(${JSON.stringify(ready)}, "1"); setInterval(() => {}, 1000)`], { home });
    await waitForFile(ready);
    child.kill('SIGINT');
    const res = await child.result;
    expect(res.code).toBe(42);
    expect(res.stdout).toBe('got SIGINT\n');
  });

  for (const sig of ['SIGHUP', 'SIGQUIT', 'SIGTERM'] as const) {
    it(`${sig} is forwarded: the child sees it, auth waits and exits with the child's code`, async () => {
      const ready = join(home, `${sig}.ready`);
      const child = spawnCli(['exec', '--', node, '-e', `process.on(${JSON.stringify(sig)}, () => { console.log("got ${sig}"); process.exit(43); }); require("fs").writeFileSync(${JSON.stringify(ready)}, "1"); setInterval(() => {}, 1000)`], { home });
      await waitForFile(ready);
      child.kill(sig);
      const res = await child.result;
      expect(res.code).toBe(43);
      expect(res.stdout).toBe(`got ${sig}\n`);
    });
  }

  it('the child gets the token and none of auth\'s own secrets: no AUTH_PASSPHRASE, no client-secret variable of any profile', async () => {
    const config = join(home, 'config.yaml');
    const original = readFileSync(config, 'utf8');
    try {
      // Two more profiles naming their client-secret variables (never used to sign in here).
      const doc = parseYaml(original) as { profiles: Record<string, unknown> };
      doc.profiles.work = { issuer: sandbox.issuer, clientId: 'auth-cli', clientSecretEnv: 'WORK_CLIENT_SECRET' };
      doc.profiles.personal = { issuer: sandbox.issuer, clientId: 'auth-cli', clientSecretEnv: 'PERSONAL_CLIENT_SECRET' };
      writeFileSync(config, stringifyYaml(doc), { mode: 0o600 });
      const env = { AUTH_PASSPHRASE: 'pass-MARKER', WORK_CLIENT_SECRET: 'work-MARKER', PERSONAL_CLIENT_SECRET: 'personal-MARKER', UNRELATED: 'kept' };
      const res = await runCli(['exec', '--', node, '-e', 'console.log(JSON.stringify(process.env))'], { home, env });
      expect(res.code, res.stderr).toBe(0);
      const childEnv = JSON.parse(res.stdout) as Record<string, string>;
      expect(childEnv.AUTH_TOKEN).toBe(storedToken());
      expect(childEnv.UNRELATED).toBe('kept');
      for (const name of Object.keys(env).filter((n) => n !== 'UNRELATED')) expect(childEnv[name], name).toBeUndefined();
      expect(res.stdout).not.toContain('MARKER');
    } finally {
      writeFileSync(config, original);
    }
  });

  it('a command that does not exist: exit 127 with a message, no token printed', async () => {
    const res = await runCli(['exec', '--', 'auth-no-such-command-here'], { home });
    expect(res.code).toBe(127);
    expect(res.stderr).toContain('Could not run auth-no-such-command-here: command not found');
    expect(res.stderr).not.toContain(storedToken());
    expect(res.stdout).toBe('');
  });

  it('no command, or a bad --env name: usage error (exit 2)', async () => {
    const none = await runCli(['exec'], { home });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('auth exec needs a command to run');
    const bad = await runCli(['exec', '--env', 'NOT-A-NAME', '--', 'true'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--env must be an environment variable name');
  });

  it('an expired token is refreshed before the child starts (R83)', async () => {
    const stored = JSON.parse(readFileSync(credFile, 'utf8'));
    writeFileSync(credFile, JSON.stringify({ ...stored, expires_at: Math.floor(Date.now() / 1000) - 5 }), { mode: 0o600 });
    const grants = sandbox.grants('refresh_token');
    const res = await runCli(['exec', '--', node, '-e', 'process.stdout.write(process.env.AUTH_TOKEN)'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(sandbox.grants('refresh_token') - grants).toBe(1);
    expect(res.stdout).not.toBe(stored.access_token);
    expect(res.stdout).toBe(storedToken());
    expect((await sandbox.userinfo(res.stdout)).status).toBe(200);
  });

  it('auth\'s options end at the command: the child\'s own -p, --env, --help and -- reach it untouched, without --', async () => {
    const script = join(home, 'argv-and-token.js');
    writeFileSync(script, 'console.log(JSON.stringify({ argv: process.argv.slice(2), token: process.env.AUTH_TOKEN ?? null })); process.exit(3)');
    // No profile "other" exists: were -p taken as auth's, exec would fail with exit 4 and never run the child.
    const res = await runCli(['exec', node, script, '-p', 'other'], { home });
    expect(res.code, res.stderr).toBe(3);
    expect(JSON.parse(res.stdout)).toEqual({ argv: ['-p', 'other'], token: storedToken() });
    const more = await runCli(['exec', node, script, '--env', 'X', '--help', '--profile=other', '--', '-x'], { home });
    expect(more.code, more.stderr).toBe(3);
    expect(JSON.parse(more.stdout)).toEqual({ argv: ['--env', 'X', '--help', '--profile=other', '--', '-x'], token: storedToken() });
  });

  it('options before the command still count: -p and --env either side of `exec`, with or without --', async () => {
    const printToken = 'process.stdout.write(JSON.stringify([process.env.AUTH_TOKEN ?? null, process.env.MY_TOKEN ?? null]))';
    for (const args of [
      ['exec', '-p', 'default', '--', node, '-e', printToken],
      ['-p', 'default', 'exec', '--', node, '-e', printToken],
      ['exec', '--profile=default', '--debug', '--no-color', node, '-e', printToken],
    ]) {
      const res = await runCli(args, { home });
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(0);
      expect(JSON.parse(res.stdout)).toEqual([storedToken(), null]);
    }
    const env = await runCli(['exec', '--env', 'MY_TOKEN', '-p', 'default', node, '-e', printToken], { home });
    expect(env.code, env.stderr).toBe(0);
    expect(JSON.parse(env.stdout)).toEqual([null, storedToken()]);
    // -p after `exec` but before the command picks the profile; one before `exec` is overridden by it.
    const nobody = await runCli(['-p', 'default', 'exec', '-p', 'nobody', '--', node, '-e', printToken], { home });
    expect(nobody.code).toBe(4);
    expect(nobody.stderr).toContain('Not logged in (profile nobody)');
  });

  it('an unknown option before the command is a usage error (exit 2); the command never runs', async () => {
    const marker = join(home, 'ran-bogus');
    const res = await runCli(['exec', '--bogus', '--', node, '-e', `require("fs").writeFileSync(${JSON.stringify(marker)}, "1")`], { home });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("unknown option '--bogus'");
    expect(existsSync(marker)).toBe(false);
  });

  it('not logged in: exit 4 and the command never runs', async () => {
    const marker = join(home, 'ran');
    const res = await runCli(['exec', '-p', 'nobody', '--', node, '-e', `require("fs").writeFileSync(${JSON.stringify(marker)}, "1")`], { home });
    expect(res.code).toBe(4);
    expect(res.stderr).toContain('Not logged in (profile nobody)');
    expect(existsSync(marker)).toBe(false);
  });
});
