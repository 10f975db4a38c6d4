import { randomBytes } from 'node:crypto';
import type { Deps } from '../deps.js';
import { AuthError, ExitCode, usageError } from '../errors.js';
import { addEntry, checkEntryName, entryParams, loadIndex, removeEntry } from '../mfa/authenticator.js';
import { generateBackupCodes, remainingBackupCodes, BACKUP_CODE_COUNT, type BackupCodeSet } from '../mfa/backup-codes.js';
import { lookupFactor, mfaContext, notSetUp, openWindow, verifyCode, type CodeKind, type MfaContext } from '../mfa/guard.js';
import { canPrompt, readCode, readSecretInput } from '../mfa/prompt.js';
import { openSecretStore } from '../store/secrets.js';
import {
  formatTime, lockedOutError, loadState, mfaAccount, mfaStatePath, removeState, saveState, serializeFactor, withMfaLock,
  type FactorRecord, type MfaState,
} from '../mfa/state.js';
import { checkParams, codeAt, enrolmentUri, ENROLMENT, generateSecret, matchStep, parseBase32Secret, parseTotpUri, remainingMs, stepAt, type TotpParams } from '../mfa/totp.js';
import { plural, sanitize } from '../ui/text.js';
import { loadProfile } from '../app/context.js';

/**
 * docs/design.md §2 `auth mfa`: a local TOTP second factor guarding the stored
 * credentials (setup/unlock/lock/status/disable/backup-codes), and a terminal
 * authenticator for other accounts (add/code/list/remove). Codes are never
 * taken from argv; stdout carries only data (backup codes, a code, a list).
 */
export interface MfaProfileOptions {
  profile?: string;
  json?: boolean;
}

function context(opts: MfaProfileOptions, deps: Deps): MfaContext {
  return mfaContext(loadProfile(deps, { profile: opts.profile }).profile);
}

const profileFlag = (profile: string) => (profile === 'default' ? '' : ` -p ${profile}`);

function printBackupCodes(deps: Deps, codes: string[]): void {
  deps.log.info(`Your ${codes.length} backup codes follow, one per line. Each works once, and they are shown only now:`);
  deps.log.info('store them somewhere safe (a password manager, or on paper), away from this computer.');
  deps.io.stdout.write(`${codes.join('\n')}\n`);
}

export async function runMfaSetup(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const ctx = context(opts, deps);
  const existing = await lookupFactor(ctx, deps);
  if (existing.kind === 'broken') throw existing.error;
  if (existing.kind !== 'off') {
    throw usageError(`MFA is already set up for profile ${ctx.profile}.`, `To start over, run \`auth mfa disable${profileFlag(ctx.profile)}\` (it asks for a code), then \`auth mfa setup${profileFlag(ctx.profile)}\`.`);
  }
  const params: TotpParams = { secret: generateSecret(), ...ENROLMENT };
  const host = deps.hostname.replace(/[^A-Za-z0-9.-]/g, '').slice(0, 64) || 'host';
  const uri = enrolmentUri(`${ctx.profile}@${host}`, params.secret);
  deps.log.info(`Setting up a second factor for profile ${ctx.profile}.`);
  if (deps.io.stderrIsTTY) {
    deps.log.info('Scan this QR code with your authenticator app:');
    const { renderQr } = await import('../ui/qr.js');
    deps.io.stderr.write(await renderQr(uri));
    deps.log.info('Or add this key URI to the app by hand:');
  } else {
    deps.log.info('Add this key URI to your authenticator app (it holds the secret; do not keep a copy of it):');
  }
  deps.log.info(`  ${uri}`);

  // docs/security.md R93: the secret becomes active only after one valid code.
  let step: number | undefined;
  const tries = canPrompt(deps) ? 3 : 1;
  for (let i = 0; i < tries && step === undefined; i++) {
    const code = (await readCode(deps, 'Enter the code the app shows now, to confirm')).replace(/\s+/g, '');
    const t = stepAt(params, deps.clock.now());
    step = matchStep(params, code, [t - 1, t, t + 1]);
    if (step === undefined && i < tries - 1) deps.log.warn('That code does not match; check the app shows "authcli" and try again.');
  }
  if (step === undefined) {
    throw new AuthError('AUTH_FAILED', `The code does not match the new secret; MFA was not turned on for profile ${ctx.profile}.`, {
      hint: `Check that the device's clock is right, then run \`auth mfa setup${profileFlag(ctx.profile)}\` again (it makes a new secret).`,
    });
  }
  const { codes, set } = await generateBackupCodes(deps.clock.now());
  const store = await openSecretStore(ctx.storage, deps, `MFA secret for profile ${ctx.profile}`);
  const now = deps.clock.now();
  const factor: FactorRecord = { v: 1, id: randomBytes(12).toString('hex'), createdAt: now, ...params, backup: set };
  const account = mfaAccount(ctx.profile);
  await withMfaLock(deps, ctx.profile, async () => {
    if ((await lookupFactor(ctx, deps)).kind !== 'off') throw usageError(`MFA was set up for profile ${ctx.profile} by another process meanwhile; nothing was changed.`);
    await store.set(account, serializeFactor(factor));
    const state: MfaState = {
      v: 1, secretId: factor.id, store: store.backend, enabledAt: now, lastStep: step!, failures: 0, lockedUntil: 0,
      unlockedUntil: now + ctx.unlockMinutes * 60_000, requireBackup: false,
    };
    try {
      saveState(deps, ctx.profile, state);
    } catch (e) {
      await store.delete(account).catch(() => undefined);
      throw e;
    }
  });
  deps.log.success(`MFA is on for profile ${ctx.profile} (secret in the ${store.describe(account)}).`);
  deps.log.info(`  \`auth token\`, \`auth exec\`, \`auth login\` and \`auth logout\` now need \`auth mfa unlock\`; this session stays unlocked until ${formatTime(now + ctx.unlockMinutes * 60_000)}.`);
  printBackupCodes(deps, codes);
}

function codeUsedNote(deps: Deps, kind: CodeKind, left: number | undefined): void {
  if (kind !== 'backup' || left === undefined) return;
  deps.log.warn(`A backup code was used; ${plural(left, 'backup code')} left.${left <= 3 ? ' Make new ones with `auth mfa backup-codes`.' : ''}`);
}

/** A locked-out profile is reported before anyone types a code (only on a terminal: a piped code is an attempt and is counted). */
async function refuseIfLockedOut(ctx: MfaContext, deps: Deps): Promise<void> {
  const found = await lookupFactor(ctx, deps);
  if (found.kind === 'off') throw notSetUp(ctx.profile);
  if (found.kind === 'broken') throw found.error;
  const now = deps.clock.now();
  if (canPrompt(deps) && found.state.lockedUntil > now) throw lockedOutError(ctx.profile, found.state.lockedUntil, now);
  if (found.rebuilt) deps.log.warn(`MFA for profile ${ctx.profile} is locked (${found.rebuilt}); only a backup code opens it.`);
}

export async function runMfaUnlock(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const ctx = context(opts, deps);
  await refuseIfLockedOut(ctx, deps);
  const code = await readCode(deps, `Code from your authenticator app for profile ${ctx.profile} (or a backup code)`);
  let left: number | undefined;
  let until = 0;
  const kind = await verifyCode(ctx, deps, code, async (active, now, k) => {
    await openWindow(ctx, deps)(active, now);
    until = active.state.unlockedUntil;
    if (k === 'backup') left = remainingBackupCodes(active.factor.backup);
  });
  deps.log.success(`MFA unlocked for profile ${ctx.profile} until ${formatTime(until)} (${plural(ctx.unlockMinutes, 'minute')}).`);
  codeUsedNote(deps, kind, left);
}

export async function runMfaLock(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const ctx = context(opts, deps);
  const done = await withMfaLock(deps, ctx.profile, async () => {
    const loaded = loadState(deps, ctx.profile);
    if (loaded.kind !== 'ok') return loaded.kind;
    loaded.state.unlockedUntil = 0;
    saveState(deps, ctx.profile, loaded.state);
    return 'locked';
  });
  if (done === 'missing') deps.log.info(`MFA is not set up for profile ${ctx.profile}; nothing to lock.`);
  else deps.log.success(`MFA locked for profile ${ctx.profile}. Run \`auth mfa unlock${profileFlag(ctx.profile)}\` to open it again.`);
}

export async function runMfaDisable(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const ctx = context(opts, deps);
  await refuseIfLockedOut(ctx, deps);
  const code = await readCode(deps, `To turn MFA off for profile ${ctx.profile}, enter a current code (or a backup code)`);
  await verifyCode(ctx, deps, code, async ({ store }) => {
    await store.delete(mfaAccount(ctx.profile));
    removeState(deps, ctx.profile);
  });
  deps.log.success(`MFA is off for profile ${ctx.profile}; its secret and backup codes were deleted. Remove the "authcli" entry from your authenticator app.`);
  if (ctx.required) deps.log.warn(`Profile ${ctx.profile} sets mfa.required in the config, so commands will refuse to run until you set MFA up again or remove that setting.`);
}

export async function runMfaBackupCodes(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const ctx = context(opts, deps);
  await refuseIfLockedOut(ctx, deps);
  const code = await readCode(deps, `To make new backup codes for profile ${ctx.profile}, enter a current code (or a backup code)`);
  let fresh: { codes: string[]; set: BackupCodeSet } | undefined;
  await verifyCode(ctx, deps, code, async ({ factor, store }, now) => {
    fresh = await generateBackupCodes(now);
    factor.backup = fresh.set;
    await store.set(mfaAccount(ctx.profile), serializeFactor(factor));
  });
  deps.log.success(`New backup codes for profile ${ctx.profile}; the old ones no longer work.`);
  printBackupCodes(deps, fresh!.codes);
}

interface MfaStatusJson {
  profile: string;
  enabled: boolean;
  required: boolean;
  state: 'off' | 'locked' | 'unlocked' | 'locked-out' | 'broken' | 'not-set-up';
  unlockedUntil: string | null;
  lockedUntil: string | null;
  failures: number;
  backupCodesLeft: number;
  storage: string | null;
  authenticatorEntries: number;
}

export async function runMfaStatus(opts: MfaProfileOptions, deps: Deps): Promise<number> {
  const ctx = context(opts, deps);
  const found = await lookupFactor(ctx, deps);
  const now = deps.clock.now();
  let entries = 0;
  try { entries = loadIndex(deps).length; } catch { /* reported by `auth mfa list` */ }
  const out: MfaStatusJson = {
    profile: ctx.profile, enabled: found.kind !== 'off', required: ctx.required, state: ctx.required ? 'not-set-up' : 'off',
    unlockedUntil: null, lockedUntil: null, failures: 0, backupCodesLeft: 0, storage: null, authenticatorEntries: entries,
  };
  let problem: string | undefined;
  if (found.kind === 'broken') {
    out.state = 'broken';
    problem = found.error.message;
  } else if (found.kind === 'on') {
    const { state } = found;
    out.failures = state.failures;
    out.backupCodesLeft = remainingBackupCodes(found.factor.backup);
    out.storage = found.store.backend;
    if (state.lockedUntil > now) { out.state = 'locked-out'; out.lockedUntil = new Date(state.lockedUntil).toISOString(); }
    else if (!state.requireBackup && !found.rebuilt && state.unlockedUntil > now) { out.state = 'unlocked'; out.unlockedUntil = new Date(state.unlockedUntil).toISOString(); }
    else out.state = 'locked';
    if (found.rebuilt || state.requireBackup) problem = `${found.rebuilt ?? 'its state had to be rebuilt'}; only a backup code opens it`;
  }
  if (opts.json) {
    deps.io.stdout.write(`${JSON.stringify(out)}\n`);
    return ExitCode.ok;
  }
  const line = (label: string, value: string) => deps.log.info(`  ${label.padEnd(14)} ${value}`);
  deps.log.info(`Profile ${ctx.profile}`);
  if (found.kind === 'off') {
    line('MFA:', ctx.required ? 'required by the config, but not set up' : 'off');
    deps.log.info(`  Run \`auth mfa setup${profileFlag(ctx.profile)}\` to turn it on.`);
  } else {
    const state: Record<MfaStatusJson['state'], string> = {
      off: 'off', 'not-set-up': 'not set up', broken: 'locked (damaged)', locked: 'locked',
      unlocked: `unlocked until ${out.unlockedUntil ? formatTime(Date.parse(out.unlockedUntil)) : ''}`,
      'locked-out': `locked out until ${out.lockedUntil ? formatTime(Date.parse(out.lockedUntil)) : ''} after failed codes`,
    };
    line('MFA:', `on, ${state[out.state]}`);
    if (found.kind === 'on') {
      line('Secret:', found.store.describe(mfaAccount(ctx.profile)));
      line('State:', mfaStatePath(deps, ctx.profile));
      line('Unlock window:', plural(ctx.unlockMinutes, 'minute'));
      line('Backup codes:', `${out.backupCodesLeft} of ${BACKUP_CODE_COUNT} left`);
      if (out.failures > 0) line('Failed codes:', String(out.failures));
    }
    if (problem) line('Problem:', problem);
  }
  line('Authenticator:', `${plural(entries, 'entry', 'entries')} (\`auth mfa list\`)`);
  return ExitCode.ok;
}

export interface MfaAddOptions {
  profile?: string;
  name: string;
  /** positional `-`: read a URI or secret from stdin. */
  source?: string;
  uri?: string;
  secret?: string;
  algorithm?: string;
  digits?: number;
  period?: number;
  issuer?: string;
}

export async function runMfaAdd(opts: MfaAddOptions, deps: Deps): Promise<void> {
  const name = checkEntryName(opts.name);
  if (opts.source !== undefined && opts.source !== '-') throw usageError(`Unexpected argument "${sanitize(opts.source, 40)}".`, 'Give the secret with --uri <otpauth://…> or --secret <base32>, or `-` to read it from stdin.');
  const given = [opts.uri !== undefined, opts.secret !== undefined, opts.source === '-'].filter(Boolean).length;
  if (given !== 1) throw usageError(given === 0 ? 'Nothing to add: give --uri <otpauth://…>, --secret <base32>, or - to read either from stdin.' : 'Give only one of --uri, --secret and -.');
  const manual = opts.algorithm !== undefined || opts.digits !== undefined || opts.period !== undefined;
  if (manual && opts.secret === undefined && opts.source !== '-') throw usageError('--algorithm, --digits and --period go with --secret; a URI carries its own.');

  let text = opts.uri ?? opts.secret;
  const fromArgv = !(text === '-' || opts.source === '-');
  if (!fromArgv) text = await readSecretInput(deps, opts.uri !== undefined ? 'otpauth:// URI' : opts.secret !== undefined ? 'base32 secret' : 'otpauth:// URI or base32 secret');
  const isUri = opts.uri !== undefined || (opts.source === '-' && /^otpauth:/i.test(text!));
  if (isUri && manual) throw usageError('--algorithm, --digits and --period go with --secret; a URI carries its own.');

  let params: TotpParams;
  let issuer = opts.issuer ?? '';
  let label = '';
  if (isUri) {
    const parsed = parseTotpUri(text!);
    params = parsed;
    if (opts.issuer === undefined) issuer = parsed.issuer;
    label = parsed.label;
  } else {
    const secret = parseBase32Secret(text!);
    params = { secret, ...checkParams(opts.algorithm ?? 'SHA1', opts.digits ?? 6, opts.period ?? 30) };
  }
  const { profile } = loadProfile(deps, { profile: opts.profile });
  const entry = await addEntry(deps, profile.storage, {
    name, issuer: sanitize(issuer, 100), label: sanitize(label, 100), algorithm: params.algorithm, digits: params.digits, period: params.period,
  }, params.secret);
  const who = [entry.issuer, entry.label].filter(Boolean).join(': ');
  deps.log.success(`Added "${name}"${who ? ` (${who})` : ''}: ${params.algorithm}, ${params.digits} digits, every ${params.period} s. Run \`auth mfa code ${name}\` for the current code.`);
  if (fromArgv) deps.log.warn('The secret was given on the command line, where other local users can read it (ps) and shell history keeps it; next time pipe it in with `-`.');
}

export async function runMfaCode(opts: { name: string }, deps: Deps): Promise<void> {
  const { params } = await entryParams(deps, checkEntryName(opts.name));
  const now = deps.clock.now();
  deps.io.stdout.write(`${codeAt(params, now)}\n`);
  deps.log.info(`${Math.ceil(remainingMs(params, now) / 1000)} s left`);
}

export async function runMfaList(opts: { json?: boolean }, deps: Deps): Promise<void> {
  const entries = loadIndex(deps);
  if (opts.json) {
    deps.io.stdout.write(`${JSON.stringify({ entries: entries.map(({ name, issuer, label, algorithm, digits, period }) => ({ name, issuer, label, algorithm, digits, period })) })}\n`);
    return;
  }
  if (entries.length === 0) {
    deps.log.info('No authenticator entries yet. Add one with `auth mfa add <name> --uri <otpauth://…>` (or `-` to paste it).');
    return;
  }
  const width = Math.max(...entries.map((e) => e.name.length));
  for (const e of entries) {
    const who = [e.issuer, e.label].filter(Boolean).join(': ');
    deps.io.stdout.write(`${e.name.padEnd(width)}  ${who || '-'}  (${e.algorithm}, ${e.digits} digits, ${e.period} s)\n`);
  }
}

export async function runMfaRemove(opts: { name: string }, deps: Deps): Promise<void> {
  const name = checkEntryName(opts.name);
  await removeEntry(deps, name);
  deps.log.success(`Removed "${name}" and its secret.`);
}
