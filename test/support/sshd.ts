import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { requireSystem, type SystemRequirement } from './system.js';

/**
 * A private OpenSSH server on 127.0.0.1 for the agent-forwarding tests: its own host key,
 * config, authorized key and client key in a temp dir, run in the foreground (`sshd -D -e`)
 * on a free port. Nothing of the machine's own ssh setup is read or changed (the client runs
 * with `-F none` and its own known_hosts). Only the sshd started here is ever signalled.
 */
const SSHD = '/usr/sbin/sshd';

export function sshdRequirement(): SystemRequirement {
  const missing = [SSHD, 'ssh', 'ssh-keygen'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`], { stdio: 'ignore' }).status !== 0);
  return requireSystem('OpenSSH server (agent forwarding)', missing.length === 0, `${missing.join(', ')} not found (apt-get install openssh-server openssh-client)`);
}

export interface PrivateSshd {
  port: number;
  /** Runs `command` on the far side (a login shell of this user) with `ssh -R <remote>:<local>`; `input` goes to its stdin. */
  run(command: string, opts: { forward?: { remote: string; local: string }; input?: string; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function keygen(file: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

export async function startPrivateSshd(): Promise<PrivateSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-sshd-'));
  // sshd insists on its privilege-separation directory when started as root.
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'client_key'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')), { mode: 0o600 });
  const port = await freePort();
  const user = userInfo().username;
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'UsePAM no',
      'StrictModes no',
      'AllowStreamLocalForwarding yes',
      'StreamLocalBindUnlink yes',
      'StreamLocalBindMask 0177',
      'PrintMotd no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const sshd: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  sshd.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const stop = async () => {
    if (sshd.exitCode === null && sshd.signalCode === null) {
      const gone = new Promise<void>((r) => sshd.once('exit', () => r()));
      sshd.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const sshArgs = (extra: string[]) => [
    '-F', 'none',
    '-i', join(dir, 'client_key'),
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
    '-o', 'ExitOnForwardFailure=yes',
    '-o', 'LogLevel=ERROR',
    '-p', String(port),
    ...extra,
    `${user}@127.0.0.1`,
  ];
  const run: PrivateSshd['run'] = (command, opts) =>
    new Promise((resolve) => {
      const fwd = opts.forward ? ['-R', `${opts.forward.remote}:${opts.forward.local}`] : [];
      const child = spawn('ssh', [...sshArgs(fwd), command], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8' } });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdin.end(opts.input ?? '');
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  // Ready when a trivial command runs through it.
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (sshd.exitCode !== null) {
      await stop();
      throw new Error(`sshd exited (${sshd.exitCode}): ${err.trim()}`);
    }
    const probe = await run('echo ready', { timeoutMs: 10_000 });
    if (probe.code === 0 && probe.stdout.trim() === 'ready') break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sshd did not accept a login within 20 s: ${probe.stderr.trim()} ${err.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { port, run, stop };
}
