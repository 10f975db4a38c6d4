import type { Paths } from './config/paths.js';
import type { StorageKind } from './config/config.js';
import type { TokenStore } from './store/token-store.js';
import type { StorageContext } from './store/context.js';

/**
 * Effects come through Deps (docs/architecture.md "Layers"): only system.ts builds the real
 * ones, so a command can run in-process against captured streams and a temp
 * directory, and the same code runs for real.
 */
export interface IO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

/** Asks at the terminal; the cli layer builds it (ui/prompter.ts), so nothing below it prompts itself. */
export interface Prompter {
  /** A masked answer typed at the terminal (prompt on stderr); rejects with the interrupt error on Ctrl-C. */
  secret(message: string, options?: { mask?: string | boolean; clearAfter?: boolean }): Promise<string>;
}

interface Clock {
  now(): number;
}

export interface Browser {
  /**
   * Launches the system browser (or AUTH_BROWSER/BROWSER) on the URL; rejects if that cannot happen.
   * `hide`: environment variables the browser must not inherit (a client secret). `lateFailure`:
   * called if the launcher, still running when this resolved, later exits with a failure.
   */
  open(url: string, hide?: readonly string[], lateFailure?: (e: Error) => void): Promise<void>;
  /** Whether this machine can plausibly show a browser (docs/design.md §2 flow choice). */
  available(): { ok: boolean; reason: string };
}

export interface Logger {
  readonly debugEnabled: boolean;
  readonly color: boolean;
  info(message: string): void;
  success(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export interface Deps {
  io: IO;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  hostname: string;
  clock: Clock;
  fetch: typeof fetch;
  paths: Paths;
  browser: Browser;
  prompter: Prompter;
  /** What the stores remember during this invocation (store/context.ts). */
  storage: StorageContext;
  log: Logger;
  /** Aborted on SIGINT/SIGTERM; every wait listens to it. */
  signal: AbortSignal;
  /** kind undefined = the default (keychain, falling back to file with a warning). */
  openStore(kind: StorageKind | undefined, profile: string): Promise<TokenStore>;
  /** Runs a command with inherited stdio and the given environment, forwarding SIGINT/SIGTERM (`auth exec`). */
  runChild(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<ChildOutcome>;
  /** The user's home directory (kubectl's ~/.kube/config lives there). */
  home: string;
  /** The absolute path of this auth (bin/auth.js, symlinks resolved): what git and kubectl are told to run. */
  authPath: string;
  /** Runs a tool to completion without a terminal (`auth setup-git` runs git), its output captured. */
  runCapture(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<CapturedOutcome>;
  /** The `auth token` fast path already asked a running agent (src/agent/client.ts): do not ask again. */
  agentAsked?: boolean;
}

export type CapturedOutcome = { exitCode: number; stdout: string; stderr: string } | { spawnError: string };

/** How a child ended: its exit status (128 + n for signal n, as shells report it), or why it could not start. */
export type ChildOutcome = { exitCode: number } | { spawnError: string };
