import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { currentRelay } from './browser-relay.js';
import { withKeyringRecovery } from './keyring.js';

/** Runs the built CLI (bin/auth.js → dist/) as a child process, as users and scripts do. */
export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'auth.js');
const SCRIPTED_BROWSER = join(ROOT, 'sandbox', 'browser.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  home: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  /** Working directory of the CLI (default: the test runner's). */
  cwd?: string;
}

/** A temp AUTH_HOME; removed by the returned cleanup. */
export function makeHome(prefix = 'auth-test-'): { home: string; cleanup(): void } {
  const home = mkdtempSync(join(tmpdir(), prefix));
  // Retries: a helper process the CLI started (the scripted browser) may still be writing its log.
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }) };
}

/** The environment every test starts from: nothing inherited that changes the CLI's choices. */
export function baseEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const relay = currentRelay();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AUTH_HOME: home,
    AUTH_STORAGE: 'file',
    NO_COLOR: '1',
    LANG: 'C.UTF-8',
    // sandbox/browser.mjs, run in this process through the relay when it can be (browser-relay.ts).
    AUTH_BROWSER: relay?.browser('sandbox') ?? SCRIPTED_BROWSER,
    ...relay?.env,
    // No test reaches a real keyring: without this the keyring library would try the
    // default session bus ($XDG_RUNTIME_DIR/bus). Keychain tests pass their private bus.
    DBUS_SESSION_BUS_ADDRESS: 'disabled:',
    // The keychain tests' private gnome-keyring is slow on a loaded machine (two suites side by
    // side): a call over the CLI's 2 s bound would read as a stuck keychain, and the call it
    // abandons mid-request can crash gnome-keyring-daemon (docs/architecture.md "Tests"). The
    // tests of the bound itself pass AUTH_TEST_KEYCHAIN_TIMEOUT_MS: undefined.
    AUTH_TEST_KEYCHAIN_TIMEOUT_MS: '20000',
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function spawnCli(args: string[], opts: CliOptions): ChildProcess & { result: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: baseEnv(opts.home, opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 45_000);
  const result = new Promise<CliResult>((resolvePromise) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
  return Object.assign(child, { result, get stderrText() { return stderr; } });
}

/**
 * Runs the CLI to completion. A call on a private keyring whose gnome-keyring-daemon died
 * during it runs once more against a restarted daemon (test/support/keyring.ts).
 */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  return withKeyringRecovery(baseEnv(opts.home, opts.env).DBUS_SESSION_BUS_ADDRESS, () => spawnCli(args, opts).result, `auth ${args[0] ?? ''}`);
}

/** Resolves when the child's stderr matches `pattern` (e.g. the printed authorization URL). */
export function waitForStderr(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolvePromise, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in stderr:\n${text}`)), timeoutMs);
    const onData = (d: Buffer | string) => {
      text += d.toString();
      const m = text.match(pattern);
      if (m) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        resolvePromise(m);
      }
    };
    child.stderr!.on('data', onData);
  });
}

/** Every file under `dir` (relative paths) whose bytes contain `needle`: "never on disk in plain text" checks. */
export function filesContaining(dir: string, needle: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => {
      try {
        return readFileSync(join(dir, f), 'latin1').includes(needle);
      } catch {
        return false; // a directory
      }
    });
}

/**
 * The CLI's `error: <message>` line (empty when there is none). Assertions about why a
 * command failed read this line, not all of stderr: the printed authorization URL alone
 * carries words such as `nonce=`, `state=` or `redirect_uri=`.
 */
export function errorLine(stderr: string): string {
  return stderr.split('\n').find((l) => l.startsWith('error:')) ?? '';
}

/** The `error:` line and the indented hint lines under it. */
export function errorBlock(stderr: string): string {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith('error:'));
  if (at === -1) return '';
  const block = [lines[at]!];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith('  ')) break;
    block.push(l);
  }
  return block.join('\n');
}

/** Runs another program (git, kubectl) to completion without blocking this process's servers. */
export function runTool(file: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => { stderr += String(e); });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}
