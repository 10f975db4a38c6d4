import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HOTP, Secret, TOTP } from 'otpauth';
import { baseEnv, BIN, type CliResult } from './support/cli.js';

/**
 * Helpers for the MFA tests. Expected codes are computed here with `otpauth`
 * directly (an independent computation from the CLI's), at the fixed time the
 * CLI is given through the test-only AUTH_TEST_NOW_MS clock.
 */
export const STEP_MS = 30_000;

export function totpAt(secret: string, ms: number, opts: { algorithm?: string; digits?: number; period?: number } = {}): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: ms, algorithm: opts.algorithm ?? 'SHA1', digits: opts.digits ?? 6, period: opts.period ?? 30 });
}

/** The code for an absolute step (for T−2 … T+2 tests). */
export function totpForStep(secret: string, step: number): string {
  return HOTP.generate({ secret: Secret.fromBase32(secret), counter: step, digits: 6 });
}

export const secretFromUri = (uri: string) => new URL(uri).searchParams.get('secret')!;
export const URI_PATTERN = /otpauth:\/\/totp\/\S+/;
export const BACKUP_LINE = /^[a-z2-7]{5}-[a-z2-7]{5}$/;

/** The built CLI with stdin kept open, so a test can answer after reading stderr (a piped, non-TTY stdin). */
export function spawnOpen(args: string[], home: string, env: Record<string, string | undefined> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { env: baseEnv(home, env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const result = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, stdout, stderr });
  }));
  return { child, result, stderrText: () => stderr };
}

export function waitFor(child: ChildProcess, read: () => string, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = read().match(pattern);
      if (m) {
        clearInterval(timer);
        clearTimeout(deadline);
        resolve(m);
      }
    };
    const timer = setInterval(check, 20);
    const deadline = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`timed out waiting for ${pattern}; got:\n${read()}`));
    }, timeoutMs);
    child.once('close', () => setTimeout(() => {
      check();
      clearInterval(timer);
      clearTimeout(deadline);
      if (!read().match(pattern)) reject(new Error(`process exited before ${pattern}; got:\n${read()}`));
    }, 50));
  });
}

/** Every file under `dir` (recursive) with its mode. */
export function listFiles(dir: string): { path: string; mode: number }[] {
  const out: { path: string; mode: number }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push({ path: p, mode: st.mode & 0o777 });
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

export function grepTree(dir: string, needle: string): string[] {
  return listFiles(dir).filter((f) => readFileSync(f.path).includes(needle)).map((f) => f.path);
}

/** A real terminal: a tmux pane on a private server socket (tmux is what docs/security.md §0 names for TTY tests). */
export const tmuxAvailable = () => spawnSync('tmux', ['-V']).status === 0;

export class TmuxPane {
  private readonly socket = `auth-mfa-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  private tmux(args: string[]) {
    const res = spawnSync('tmux', ['-L', this.socket, ...args], { env: this.env, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`tmux ${args[0]} failed: ${res.stderr}`);
    return res.stdout;
  }

  /** Runs `shellCommand` (sh -c) in a 200×60 pane; the pane stays after it exits. */
  start(shellCommand: string): void {
    this.tmux(['new-session', '-d', '-s', 'main', '-x', '200', '-y', '60', 'sh', '-c', `${shellCommand}; echo "[exit $?]"; sleep 120`]);
  }

  capture(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', 'main']);
  }

  type(text: string): void {
    this.tmux(['send-keys', '-t', 'main', '-l', text]);
    this.tmux(['send-keys', '-t', 'main', 'Enter']);
  }

  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.capture().match(pattern);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in the pane:\n${this.capture()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async exitCode(): Promise<number> {
    return Number((await this.waitFor(/\[exit (\d+)\]/))[1]);
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { env: this.env });
  }
}

/** Single-quotes a value for sh. */
export const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
