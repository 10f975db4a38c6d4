import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { BIN, makeHome, runCli } from './support/cli.js';
import { sshdRequirement, startPrivateSshd, type PrivateSshd } from './support/sshd.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// The README's forwarding recipe, end to end through a real OpenSSH server on 127.0.0.1:
// `ssh -R <remote socket>:<local agent socket>`, and on the far side AUTH_AGENT_SOCK plus
// AUTH_AGENT_TOKEN (read from stdin, never on a command line). The far side has an AUTH_HOME of
// its own with nothing in it, so every token it gets comes through the forwarded socket.

const sshd = sshdRequirement();
const errorLine = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('error:')) ?? '';

describe.skipIf(sshd.skip)('auth agent forwarded over ssh -R (real sshd)', () => {
  let sandbox: Sandbox;
  let ssh: PrivateSshd;
  const { home, cleanup } = makeHome('auth-agent-ssh-');
  const remote = mkdtempSync(join(tmpdir(), 'auth-remote-'));
  const remoteHome = join(remote, 'home');
  const remoteSock = join(remote, 'agent.sock');
  let localSock = '';
  const cli = (args: string[]) => runCli(args, { home });
  const stored = (profile = 'default') => JSON.parse(readFileSync(join(home, 'credentials', `${profile}.json`), 'utf8')) as { access_token: string; refresh_token: string };

  /** `auth <args>` on the far side, through the forwarded socket, the grant token on stdin (if any). */
  const far = (args: string, token: string | undefined) =>
    ssh.run(
      [
        'set -e',
        `mkdir -p ${remoteHome}`,
        token === undefined ? 'unset AUTH_AGENT_TOKEN' : 'IFS= read -r AUTH_AGENT_TOKEN; export AUTH_AGENT_TOKEN',
        `export AUTH_HOME=${remoteHome} AUTH_AGENT_SOCK=${remoteSock} AUTH_STORAGE=file NO_COLOR=1 DBUS_SESSION_BUS_ADDRESS=disabled:`,
        `exec ${process.execPath} ${BIN} ${args}`,
      ].join('\n'),
      { forward: { remote: remoteSock, local: localSock }, input: token === undefined ? '' : `${token}\n` },
    );

  beforeAll(async () => {
    sshd.assertAvailable();
    [sandbox, ssh] = await Promise.all([startSandbox({ accessTokenTTL: 3600 }), startPrivateSshd()]);
    for (const profile of ['default', 'other']) {
      const res = await cli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli', ...(profile === 'default' ? [] : ['-p', profile])]);
      expect(res.code, res.stderr).toBe(0);
    }
    const started = await cli(['agent', 'start']);
    expect(started.code, started.stderr).toBe(0);
    localSock = started.stdout.trim();
    expect(localSock).toBe(join(home, 'agent.sock'));
  }, 120_000);
  afterAll(async () => {
    await cli(['agent', 'stop']);
    await Promise.all([ssh?.stop(), sandbox?.close()]);
    rmSync(remote, { recursive: true, force: true });
    cleanup();
  });

  it('a granted client on the far side gets the profile’s token (accepted by the provider), never a refresh token', async () => {
    const grant = await cli(['agent', 'grant', '--ttl', '10m']);
    expect(grant.code, grant.stderr).toBe(0);
    const token = grant.stdout.trim();
    expect(token.length).toBeGreaterThanOrEqual(22); // ≥ 128 bits, base64url
    // The token is printed once, on stdout only.
    expect(grant.stderr).not.toContain(token);

    const res = await far('token', token);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${stored().access_token}\n`);
    expect((await sandbox.userinfo(res.stdout.trim())).status).toBe(200);

    const json = await far('token --format json', token);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).toContain(stored().access_token);
    expect(json.stdout).not.toContain(stored().refresh_token);
    expect(json.stdout).not.toMatch(/refresh_token/);

    // The grant list shows it without the token.
    const list = await cli(['agent', 'grants']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('default');
    expect(list.stdout + list.stderr).not.toContain(token);
  }, 120_000);

  it('the grant is for its profile only; a wrong token, no token, or a revoked grant gets nothing', async () => {
    const grant = await cli(['agent', 'grant', '-p', 'default', '--ttl', '10m']);
    expect(grant.code, grant.stderr).toBe(0);
    const token = grant.stdout.trim();

    const other = await far('token -p other', token);
    expect(other.code).toBe(4);
    expect(other.stdout).toBe('');
    expect(errorLine(other.stderr)).toMatch(/covers profile default only/);
    expect(other.stderr).not.toContain(stored('other').access_token);

    const wrong = await far('token', `${token.slice(0, -2)}xx`);
    expect(wrong.code).toBe(4);
    expect(wrong.stdout).toBe('');
    expect(errorLine(wrong.stderr)).toMatch(/unknown or revoked grant/);

    // No grant token: the far side has no key and no stores of its own, so nothing comes back.
    const none = await far('token', undefined);
    expect(none.code).toBe(4);
    expect(none.stdout).toBe('');
    expect(errorLine(none.stderr)).toMatch(/not logged in/i);

    const { grants } = JSON.parse((await cli(['agent', 'grants', '--json'])).stdout) as { grants: Array<{ id: string; profile: string }> };
    expect(grants.length).toBeGreaterThanOrEqual(1);
    for (const g of grants) expect((await cli(['agent', 'revoke', g.id])).code).toBe(0);
    const revoked = await far('token', token);
    expect(revoked.code).toBe(4);
    expect(revoked.stdout).toBe('');
    expect(errorLine(revoked.stderr)).toMatch(/unknown or revoked grant/);
  }, 120_000);
});
