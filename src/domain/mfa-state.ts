/**
 * The MFA verifier state (`<state>/mfa/<profile>.json`, mfa/state.ts), parsed without
 * side effects so the `auth token` fast path and the guard read it the same way.
 */
export type SecretBackend = 'keychain' | 'file';

export interface MfaState {
  v: 1;
  secretId: string;
  /** Backend holding the factor record. */
  store: SecretBackend;
  enabledAt: number;
  /** Last accepted TOTP time step; codes for this step or earlier are replays (RFC 6238 §5.2). */
  lastStep: number;
  /** Consecutive failed attempts (attempts made while locked out count too). */
  failures: number;
  /** Epoch ms; 0 = not locked out. */
  lockedUntil: number;
  /** Epoch ms; 0 = closed. */
  unlockedUntil: number;
  /** Set when the state had to be rebuilt: only a backup code is accepted (R98). */
  requireBackup: boolean;
}

const isInt = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n);

export function parseState(text: string): MfaState | undefined {
  let o: MfaState;
  try {
    o = JSON.parse(text) as MfaState;
  } catch {
    return undefined;
  }
  if (!o || o.v !== 1 || typeof o.secretId !== 'string' || (o.store !== 'keychain' && o.store !== 'file')) return undefined;
  if (![o.enabledAt, o.lastStep, o.failures, o.lockedUntil, o.unlockedUntil].every(isInt) || typeof o.requireBackup !== 'boolean') return undefined;
  if (o.failures < 0) return undefined;
  return o;
}

