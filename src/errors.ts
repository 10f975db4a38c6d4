/**
 * The error tree. Every failure a user can meet is an AuthError with a stable
 * `code` and the exit code of docs/design.md §6; main.ts is the only place that turns
 * them into an exit status. Messages name the next step and never carry secrets.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  authNeeded: 4,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorCode =
  | 'AUTH_USAGE'
  | 'AUTH_CONFIG_INVALID'
  | 'AUTH_NO_TTY'
  | 'AUTH_NOT_LOGGED_IN'
  | 'AUTH_SESSION_ENDED'
  | 'AUTH_MFA_LOCKED'
  | 'AUTH_PROVIDER_ERROR'
  | 'AUTH_NETWORK'
  | 'AUTH_TIMEOUT'
  | 'AUTH_STORAGE'
  | 'AUTH_INSECURE'
  | 'AUTH_PORT_IN_USE'
  | 'AUTH_INTERRUPTED'
  | 'AUTH_FAILED';

const exitFor: Record<ErrorCode, ExitCodeValue> = {
  AUTH_USAGE: ExitCode.usage,
  AUTH_CONFIG_INVALID: ExitCode.usage,
  AUTH_NO_TTY: ExitCode.usage,
  AUTH_NOT_LOGGED_IN: ExitCode.authNeeded,
  AUTH_SESSION_ENDED: ExitCode.authNeeded,
  AUTH_MFA_LOCKED: ExitCode.authNeeded,
  AUTH_PROVIDER_ERROR: ExitCode.failure,
  AUTH_NETWORK: ExitCode.failure,
  AUTH_TIMEOUT: ExitCode.failure,
  AUTH_STORAGE: ExitCode.failure,
  AUTH_INSECURE: ExitCode.usage,
  AUTH_PORT_IN_USE: ExitCode.failure,
  AUTH_INTERRUPTED: ExitCode.interrupted,
  AUTH_FAILED: ExitCode.failure,
};

export class AuthError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;
  /** Extra lines shown under the message (hints). */
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options: { hint?: string; exitCode?: ExitCodeValue } = {}) {
    super(message);
    this.name = 'AuthError';
    this.code = code;
    this.exitCode = options.exitCode ?? exitFor[code];
    this.hint = options.hint;
  }
}

export const usageError = (message: string, hint?: string) =>
  new AuthError('AUTH_USAGE', message, hint === undefined ? {} : { hint });

/**
 * The command that signs a profile in again, always with its `-p`: a message read in a
 * script's log or another terminal must name the profile even when it is `default`.
 */
export const loginCommand = (profile: string) => `auth login -p ${profile}`;

/** `auth <command>` for a profile, the way a hint shows it: `-p <profile>` unless it is `default`. */
export const authCommand = (command: string, profile: string) => `auth ${command}${profile === 'default' ? '' : ` -p ${profile}`}`;

export const notLoggedIn = (profile: string) =>
  new AuthError('AUTH_NOT_LOGGED_IN', `Not logged in (profile ${profile}).`, {
    hint: `Run \`${loginCommand(profile)}\` to sign in.`,
  });

export const sessionEnded = (profile: string, why: string) =>
  new AuthError('AUTH_SESSION_ENDED', `The session for profile ${profile} has ended: ${why}. The stored credential was removed.`, {
    hint: `Run \`${loginCommand(profile)}\` to sign in again.`,
  });

export const interrupted = () => new AuthError('AUTH_INTERRUPTED', 'Interrupted.');

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || (e as { code?: string }).code === 'ABORT_ERR');
}
