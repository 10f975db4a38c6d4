import type { Deps } from '../deps.js';
import { authCommand, ExitCode, usageError } from '../errors.js';
import { addEntry, checkEntryName, entryParams, loadIndex, removeEntry } from '../mfa/authenticator.js';
import { BACKUP_CODE_COUNT } from '../mfa/backup-codes.js';
import type { MfaContext } from '../mfa/guard.js';
import { canPrompt, readCode, readSecretInput } from '../mfa/prompt.js';
import { formatTime } from '../mfa/state.js';
import { checkParams, codeAt, parseBase32Secret, parseTotpUri, remainingMs, type TotpParams } from '../mfa/totp.js';
import { plural, sanitize } from '../ui/text.js';
import { loadProfile } from '../app/context.js';
import {
  beginEnrolment, checkCanVerify, confirmEnrolment, disableMfa, enableMfa, enrolmentFailed, lockMfa, mfaFor, mfaStatus,
  renewBackupCodes, unlockMfa, type CodeUsed, type MfaStatusJson,
} from '../app/mfa.js';

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

function printBackupCodes(deps: Deps, codes: string[]): void {
  deps.log.info(`Your ${codes.length} backup codes follow, one per line. Each works once, and they are shown only now:`);
  deps.log.info('store them somewhere safe (a password manager, or on paper), away from this computer.');
  deps.io.stdout.write(`${codes.join('\n')}\n`);
}

export async function runMfaSetup(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const ctx = mfaFor(opts.profile, deps);
  const enrolment = await beginEnrolment(ctx, deps);
  deps.log.info(`Setting up a second factor for profile ${ctx.profile}.`);
  if (deps.io.stderrIsTTY) {
    deps.log.info('Scan this QR code with your authenticator app:');
    const { renderQr } = await import('../ui/qr.js');
    deps.io.stderr.write(await renderQr(enrolment.uri));
    deps.log.info('Or add this key URI to the app by hand:');
  } else {
    deps.log.info('Add this key URI to your authenticator app (it holds the secret; do not keep a copy of it):');
  }
  deps.log.info(`  ${enrolment.uri}`);

  // docs/security.md R93: the secret becomes active only after one valid code.
  let step: number | undefined;
  const tries = canPrompt(deps) ? 3 : 1;
  for (let i = 0; i < tries && step === undefined; i++) {
    step = confirmEnrolment(enrolment, await readCode(deps, 'Enter the code the app shows now, to confirm'), deps);
    if (step === undefined && i < tries - 1) deps.log.warn('That code does not match; check the app shows "authcli" and try again.');
  }
  if (step === undefined) throw enrolmentFailed(ctx);
  const on = await enableMfa(ctx, enrolment, step, deps);
  deps.log.success(`MFA is on for profile ${ctx.profile} (secret in the ${on.secretWhere}).`);
  deps.log.info(`  \`auth token\`, \`auth exec\`, \`auth login\` and \`auth logout\` now need \`auth mfa unlock\`; this session stays unlocked until ${formatTime(on.unlockedUntil)}.`);
  printBackupCodes(deps, on.backupCodes);
}

function codeUsedNote(deps: Deps, used: CodeUsed): void {
  if (used.kind !== 'backup' || used.backupLeft === undefined) return;
  const left = used.backupLeft;
  deps.log.warn(`A backup code was used; ${plural(left, 'backup code')} left.${left <= 3 ? ' Make new ones with `auth mfa backup-codes`.' : ''}`);
}

/** The profile's MFA, refused early when locked out; the code is then read at the terminal or from stdin. */
async function readCodeFor(opts: MfaProfileOptions, deps: Deps, message: (profile: string) => string): Promise<{ ctx: MfaContext; code: string }> {
  const ctx = mfaFor(opts.profile, deps);
  const warning = await checkCanVerify(ctx, canPrompt(deps), deps);
  if (warning) deps.log.warn(warning);
  return { ctx, code: await readCode(deps, message(ctx.profile)) };
}

export async function runMfaUnlock(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const { ctx, code } = await readCodeFor(opts, deps, (p) => `Code from your authenticator app for profile ${p} (or a backup code)`);
  const used = await unlockMfa(ctx, code, deps);
  deps.log.success(`MFA unlocked for profile ${ctx.profile} until ${formatTime(used.until)} (${plural(ctx.unlockMinutes, 'minute')}).`);
  codeUsedNote(deps, used);
}

export async function runMfaLock(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const ctx = mfaFor(opts.profile, deps);
  if ((await lockMfa(ctx, deps)) === 'missing') deps.log.info(`MFA is not set up for profile ${ctx.profile}; nothing to lock.`);
  else deps.log.success(`MFA locked for profile ${ctx.profile}. Run \`${authCommand('mfa unlock', ctx.profile)}\` to open it again.`);
}

export async function runMfaDisable(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const { ctx, code } = await readCodeFor(opts, deps, (p) => `To turn MFA off for profile ${p}, enter a current code (or a backup code)`);
  await disableMfa(ctx, code, deps);
  deps.log.success(`MFA is off for profile ${ctx.profile}; its secret and backup codes were deleted. Remove the "authcli" entry from your authenticator app.`);
  if (ctx.required) deps.log.warn(`Profile ${ctx.profile} sets mfa.required in the config, so commands will refuse to run until you set MFA up again or remove that setting.`);
}

export async function runMfaBackupCodes(opts: MfaProfileOptions, deps: Deps): Promise<void> {
  const { ctx, code } = await readCodeFor(opts, deps, (p) => `To make new backup codes for profile ${p}, enter a current code (or a backup code)`);
  const codes = await renewBackupCodes(ctx, code, deps);
  deps.log.success(`New backup codes for profile ${ctx.profile}; the old ones no longer work.`);
  printBackupCodes(deps, codes);
}

export async function runMfaStatus(opts: MfaProfileOptions, deps: Deps): Promise<number> {
  const ctx = mfaFor(opts.profile, deps);
  const { json: out, problem, where } = await mfaStatus(ctx, deps);
  if (opts.json) {
    deps.io.stdout.write(`${JSON.stringify(out)}\n`);
    return ExitCode.ok;
  }
  const line = (label: string, value: string) => deps.log.info(`  ${label.padEnd(14)} ${value}`);
  deps.log.info(`Profile ${ctx.profile}`);
  if (!out.enabled) {
    line('MFA:', ctx.required ? 'required by the config, but not set up' : 'off');
    deps.log.info(`  Run \`${authCommand('mfa setup', ctx.profile)}\` to turn it on.`);
  } else {
    const state: Record<MfaStatusJson['state'], string> = {
      off: 'off', 'not-set-up': 'not set up', broken: 'locked (damaged)', locked: 'locked',
      unlocked: `unlocked until ${out.unlockedUntil ? formatTime(Date.parse(out.unlockedUntil)) : ''}`,
      'locked-out': `locked out until ${out.lockedUntil ? formatTime(Date.parse(out.lockedUntil)) : ''} after failed codes`,
    };
    line('MFA:', `on, ${state[out.state]}`);
    if (where) {
      line('Secret:', where.secret);
      line('State:', where.state);
      line('Unlock window:', plural(ctx.unlockMinutes, 'minute'));
      line('Backup codes:', `${out.backupCodesLeft} of ${BACKUP_CODE_COUNT} left`);
      if (out.failures > 0) line('Failed codes:', String(out.failures));
    }
    if (problem) line('Problem:', problem);
  }
  line('Authenticator:', `${plural(out.authenticatorEntries, 'entry', 'entries')} (\`auth mfa list\`)`);
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
