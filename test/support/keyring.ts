import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireSystem, type SystemRequirement } from './system.js';

/**
 * A private Secret Service for keychain tests: its own D-Bus session bus and an
 * unlocked gnome-keyring-daemon inside it, with HOME/XDG dirs in a temp dir, so
 * `npm test` never reads or writes a developer's real keyring. Only the two
 * processes started here are ever signalled.
 *
 * The bus runs with a config of our own that has no service directories: D-Bus
 * activation would otherwise start a second, locked gnome-keyring on first use.
 */
const KEYRING_BINARIES = ['dbus-daemon', 'gnome-keyring-daemon', 'dbus-send', 'secret-tool'] as const;

function which(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/** Whether this machine can run a private Secret Service; the skip reason names what is missing. */
function keyringSupport(): { available: boolean; reason: string } {
  if (process.platform !== 'linux') return { available: false, reason: `the private Secret Service fixture runs on Linux only (this is ${process.platform})` };
  const missing = KEYRING_BINARIES.filter((b) => !which(b));
  if (missing.length) {
    return { available: false, reason: `${missing.join(', ')} not found (apt-get install gnome-keyring dbus-x11 libsecret-tools)` };
  }
  return { available: true, reason: '' };
}

/** requireSystem for the keychain: skip with a visible reason, or fail under AUTH_REQUIRE_SYSTEM=1. */
export function keyringRequirement(): SystemRequirement {
  const { available, reason } = keyringSupport();
  return requireSystem('Keychain (Secret Service via gnome-keyring)', available, reason);
}

const TASKSET = process.platform === 'linux' && which('taskset');

/** Private keyrings of this worker by bus address: runCli (test/support/cli.ts) recovers a call made on one. */
const registry = new Map<string, <T>(call: () => Promise<T>, during: string) => Promise<T>>();

/**
 * Runs a CLI call; when it used a private keyring whose daemon died during it, restarts that
 * daemon and runs the call once more (see `recovering` below). Other calls run as they are.
 */
export function withKeyringRecovery<T>(busAddress: string | undefined, call: () => Promise<T>, during: string): Promise<T> {
  const recovering = busAddress === undefined ? undefined : registry.get(busAddress);
  return recovering ? recovering(call, during) : call();
}

export interface PrivateKeyring {
  /** Pass to CLI children (runCli's env) so they reach this keyring and nothing else. */
  env: { DBUS_SESSION_BUS_ADDRESS: string };
  /** Runs secret-tool against this keyring. */
  secretTool(args: string[], input?: string): { code: number | null; stdout: string; stderr: string };
  /** Accounts (the keyring's `username` attribute) of the items under `service` (default authcli), sorted. */
  accounts(service?: string): string[];
  /** The secret stored for `account` (secret-tool lookup), or undefined. */
  lookup(account: string, service?: string): string | undefined;
  /**
   * Sets the bus's per-user connection limit (undefined: back to a session bus's) and waits until
   * dbus-daemon reloaded its config. At the limit the bus answers a new connection's Hello with
   * LimitsExceeded and hangs up, as a session bus does when many processes hold connections.
   */
  setConnectionLimit(limit: number | undefined): Promise<void>;
  /** How many connections the bus has refused at that limit so far. */
  refusedConnections(): number;
  /** SIGSTOP / SIGCONT the keyring daemon: a Secret Service that stops answering. */
  pauseDaemon(): void;
  resumeDaemon(): void;
  /** Why the daemon is gone when it died under the tests (it has crashed under load: glib trap), else undefined. */
  daemonDeath(): string | undefined;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await done;
  clearTimeout(timer);
}

function firstLine(child: ChildProcess, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms: ${err.trim()}`)), timeoutMs);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, nl).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready: ${err.trim()}`));
    });
  });
}

/**
 * The connection limits of a desktop session bus (/usr/share/dbus-1/session.conf). dbus-daemon's
 * built-in defaults are a system bus's (256 connections per user), and the keyring library opens
 * a connection per call: 50 concurrent `auth token` reach that, which a real session never does.
 */
const SESSION_LIMITS = { max_incomplete_connections: 10000, max_connections_per_user: 100000, max_completed_connections: 100000, auth_timeout: 240000 };

const BUS_CONFIG = (socketDir: string, limits: Record<string, number> = SESSION_LIMITS) => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${socketDir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
${Object.entries(limits).map(([name, value]) => `  <limit name="${name}">${value}</limit>`).join('\n')}
</busconfig>
`;

/** Starts the bus and an unlocked gnome-keyring; resolves once the Secret Service answers. */
export interface KeyringOptions {
  /** false: only the bus, no Secret Service on it (a headless box with D-Bus but no keyring). */
  secretService?: boolean;
  /** false: gnome-keyring runs but no login keyring was unlocked (no password given). */
  unlocked?: boolean;
}

export async function startPrivateKeyring(opts: KeyringOptions = {}): Promise<PrivateKeyring> {
  const root = mkdtempSync(join(tmpdir(), 'auth-keyring-'));
  const dirs = { home: join(root, 'home'), data: join(root, 'data'), config: join(root, 'config'), cache: join(root, 'cache'), runtime: join(root, 'run'), bus: join(root, 'bus') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });
  chmodSync(dirs.runtime, 0o700);
  writeFileSync(join(root, 'bus.conf'), BUS_CONFIG(dirs.bus));

  let bus: ChildProcess | undefined;
  let keyring: ChildProcess | undefined;
  const stop = async () => {
    await stopChild(keyring);
    await stopChild(bus);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    bus = spawn('dbus-daemon', [`--config-file=${join(root, 'bus.conf')}`, '--nofork', '--nopidfile', '--print-address=1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: dirs.home },
    });
    const address = await firstLine(bus, 'dbus-daemon', 5000);
    let busErr = '';
    bus.stderr!.on('data', (d: Buffer | string) => (busErr += d.toString()));
    const env = {
      PATH: process.env.PATH,
      HOME: dirs.home,
      XDG_DATA_HOME: dirs.data,
      XDG_CONFIG_HOME: dirs.config,
      XDG_CACHE_HOME: dirs.cache,
      XDG_RUNTIME_DIR: dirs.runtime,
      DBUS_SESSION_BUS_ADDRESS: address,
      LANG: 'C.UTF-8',
    };
    const unlock = opts.unlocked !== false;
    let keyringErr = '';
    // Synchronous (the waits block this worker briefly), so a synchronous secret-tool call can recover too.
    const startDaemon = () => {
      // --unlock reads the login keyring's password from stdin; it creates that keyring unlocked
      // (or, after a restart, opens the one on disk with the same password).
      // stdin from a file: the wait below blocks this thread, so nothing could be written to a pipe.
      const password = join(root, 'password');
      writeFileSync(password, unlock ? 'test-keyring-password' : '', { mode: 0o600 });
      const stdin = openSync(password, 'r');
      // Pinned to one CPU: gnome-keyring-daemon 42's client-registration race (docs/architecture.md
      // "Tests") needs its threads to run at the same time; pinned, a stress run that crashed it
      // 4 times in 3 minutes crashed it none.
      const daemon = ['gnome-keyring-daemon', '--foreground', ...(unlock ? ['--unlock'] : []), '--components=secrets'];
      const argv = TASKSET ? ['taskset', '-c', '0', ...daemon] : daemon;
      const child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin, 'ignore', 'pipe'], env });
      closeSync(stdin);
      keyring = child;
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (keyringErr += d));
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`gnome-keyring-daemon exited (${child.exitCode}): ${keyringErr.trim()}`);
        const r = spawnSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets'], { env, encoding: 'utf8' });
        if (r.status === 0 && /boolean true/.test(r.stdout)) return;
        if (Date.now() > deadline) throw new Error(`gnome-keyring-daemon did not register org.freedesktop.secrets within 10 s: ${keyringErr.trim()}`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    };
    if (opts.secretService !== false) startDaemon();

    /** The daemon is gone (reaped, or a zombie Node has not reaped yet: /proc says Z). */
    const daemonGone = () => {
      if (!keyring || keyring.pid === undefined) return false;
      if (keyring.exitCode !== null || keyring.signalCode !== null) return true;
      try {
        return /^\d+ \(.*\) [ZX] /.test(readFileSync(`/proc/${keyring.pid}/stat`, 'utf8'));
      } catch {
        return true;
      }
    };
    const deathReason = () => `gnome-keyring-daemon ended (${keyring?.signalCode ?? (keyring?.exitCode !== null ? `exit ${keyring?.exitCode}` : 'killed')}): ${keyringErr.trim().slice(-300) || 'no output'}`;
    /**
     * gnome-keyring-daemon 42 aborts now and then under load (docs/architecture.md "Tests": a
     * race in its lazy client registration when a new connection opens a session). A call during
     * which it died is run again once against a restarted daemon, which reopens the same keyring
     * from disk; the crash is reported on stderr, never hidden. A second death fails the test.
     */
    const restart = (during: string) => {
      process.stderr.write(`[keyring] ${deathReason()} (during ${during})\n[keyring] restarted it and ran the call again\n`);
      if (keyring?.pid !== undefined && keyring.exitCode === null) keyring.kill('SIGKILL');
      keyringErr = '';
      startDaemon();
    };
    const recovering = async <T>(call: () => Promise<T>, during: string): Promise<T> => {
      const result = await call();
      if (!daemonGone()) return result;
      restart(during);
      return call();
    };
    registry.set(address, recovering);

    const secretToolOnce = (args: string[], input?: string) => {
      const r = spawnSync('secret-tool', args, { env, encoding: 'utf8', input: input ?? '', timeout: 10_000 });
      return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    };
    // Synchronous for the tests' convenience: a death during it is recovered like a CLI call's.
    const secretTool = (args: string[], input?: string) => {
      const r = secretToolOnce(args, input);
      if (!daemonGone()) return r;
      restart(`secret-tool ${args[0]}`);
      return secretToolOnce(args, input);
    };
    // secret-tool prints each item's attributes on stderr ("attribute.username = <account>").
    const accounts = (service = 'authcli') => {
      const r = secretTool(['search', '--all', 'service', service]);
      return [...r.stderr.matchAll(/^attribute\.username = (.*)$/gm)].map((m) => m[1]!).sort();
    };
    const lookup = (account: string, service = 'authcli') => {
      const r = secretTool(['lookup', 'service', service, 'username', account]);
      return r.code === 0 ? r.stdout : undefined;
    };
    const signalDaemon = (sig: NodeJS.Signals) => {
      if (!keyring || keyring.exitCode !== null) throw new Error('no keyring daemon is running');
      keyring.kill(sig);
    };
    const setConnectionLimit = async (limit: number | undefined) => {
      const reloads = busErr.split('Reloaded configuration').length;
      writeFileSync(join(root, 'bus.conf'), BUS_CONFIG(dirs.bus, limit === undefined ? SESSION_LIMITS : { ...SESSION_LIMITS, max_connections_per_user: limit }));
      bus!.kill('SIGHUP');
      const deadline = Date.now() + 10_000;
      while (busErr.split('Reloaded configuration').length === reloads) {
        if (Date.now() > deadline) throw new Error(`dbus-daemon did not reload its config within 10 s: ${busErr.trim().slice(-300)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    return {
      env: { DBUS_SESSION_BUS_ADDRESS: address },
      setConnectionLimit,
      refusedConnections: () => busErr.split('The maximum number of active connections').length - 1,
      secretTool,
      accounts,
      lookup,
      pauseDaemon: () => signalDaemon('SIGSTOP'),
      resumeDaemon: () => signalDaemon('SIGCONT'),
      daemonDeath: () => (daemonGone() ? `${deathReason()} during the tests` : undefined),
      stop: async () => {
        registry.delete(address);
        if (keyring && keyring.exitCode === null) keyring.kill('SIGCONT');
        await stop();
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
