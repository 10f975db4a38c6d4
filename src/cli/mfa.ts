import type { MfaAddOptions } from '../commands/mfa.js';
import { intArg, type CliKit } from './kit.js';

/** `auth mfa add`'s flags are MfaAddOptions' own fields. */
type MfaAddFlags = Omit<MfaAddOptions, 'profile' | 'name' | 'source'>;

/** `auth mfa` and its sub-commands (docs/design.md §2). */
export function registerMfa({ program, run, withArgs }: CliKit): void {
  // docs/design.md §2 `auth mfa`: codes are read from the terminal or stdin, never taken as arguments (docs/security.md R101).
  const mfa = program
    .command('mfa')
    .description('local second factor (TOTP) guarding stored credentials, and a terminal authenticator')
    .addHelpText('after', '\nExamples:\n  auth mfa setup                      # QR code, confirm with a code, print backup codes\n  auth mfa unlock                     # asks for a code; or: echo 123456 | auth mfa unlock\n  auth mfa add github --uri -         # paste an otpauth:// URI\n  auth mfa code github\n');
  const mfaProfile = (name: string, description: string, json = false, examples?: string) => {
    const cmd = mfa.command(name).description(description);
    if (examples) cmd.addHelpText('after', `\nExamples:\n${examples}`);
    if (json) cmd.option('--json', 'machine-readable output');
    return cmd.action(run(async (deps, o) => {
      const m = await import('../commands/mfa.js');
      const opts = { profile: o.profile, json: Boolean(o.json) };
      const runners = { setup: m.runMfaSetup, unlock: m.runMfaUnlock, lock: m.runMfaLock, status: m.runMfaStatus, disable: m.runMfaDisable, 'backup-codes': m.runMfaBackupCodes } as const;
      return runners[name as keyof typeof runners](opts, deps);
    }));
  };
  mfaProfile('setup', 'create a TOTP secret (QR code), confirm it with a code, print 10 backup codes', false,
    '  auth mfa setup -p work > backup-codes.txt   # the codes on stdout; QR code and prompts on the terminal\n');
  mfaProfile('unlock', 'enter a TOTP or backup code to open the unlock window (mfa.unlockMinutes, default 15)', false,
    '  auth mfa unlock                     # asks for the code at a masked prompt\n  echo "$CODE" | auth mfa unlock      # the first line of stdin (never an argument)\n');
  mfaProfile('lock', 'close the unlock window now');
  mfaProfile('status', 'show whether MFA is on, locked or unlocked, and backup codes left', true);
  mfaProfile('disable', 'turn MFA off (needs a code); deletes the secret and backup codes');
  mfaProfile('backup-codes', 'replace the backup codes (needs a code); the old ones stop working');
  mfa
    .command('add <name> [source]')
    .description('add an authenticator entry from an otpauth:// URI or a base32 secret ("-" reads it from stdin)')
    .option('--uri <uri>', 'otpauth://totp/... URI (or - for stdin); its algorithm, digits and period are honoured')
    .option('--secret <base32>', 'base32 secret (or - for stdin)')
    .option('--algorithm <alg>', 'with --secret: SHA1 (default), SHA256 or SHA512')
    .option('--digits <n>', 'with --secret: code length (default 6)', intArg('--digits'))
    .option('--period <seconds>', 'with --secret: time step (default 30)', intArg('--period'))
    .option('--issuer <name>', 'label shown by `auth mfa list`')
    .addHelpText('after', '\nExamples:\n  auth mfa add github --uri -                 # paste the otpauth:// URI on stdin\n  auth mfa add aws --secret - --digits 6      # paste a base32 secret on stdin\n  auth mfa code github\n')
    .action(withArgs<MfaAddFlags>(async (deps, o, [name, source]) => {
      const { runMfaAdd } = await import('../commands/mfa.js');
      const opts: Parameters<typeof runMfaAdd>[0] = { name: name! };
      if (source !== undefined) opts.source = source;
      for (const key of ['profile', 'uri', 'secret', 'algorithm', 'issuer'] as const) if (typeof o[key] === 'string') opts[key] = o[key] as string;
      if (o.digits !== undefined) opts.digits = o.digits;
      if (o.period !== undefined) opts.period = o.period;
      return runMfaAdd(opts, deps);
    }));
  mfa
    .command('code <name>')
    .description('print the current code of an authenticator entry (stdout), seconds left on stderr')
    .addHelpText('after', '\nExamples:\n  auth mfa code github\n  auth mfa code github | pbcopy   # stdout holds only the code\n')
    .action(withArgs(async (deps, _o, [name]) => {
      const { runMfaCode } = await import('../commands/mfa.js');
      return runMfaCode({ name: name! }, deps);
    }));
  mfa
    .command('list')
    .description('list authenticator entries (names and issuers, never secrets)')
    .option('--json', 'machine-readable output')
    .action(run(async (deps, o) => {
      const { runMfaList } = await import('../commands/mfa.js');
      return runMfaList({ json: Boolean(o.json) }, deps);
    }));
  mfa
    .command('remove <name>')
    .description('delete an authenticator entry and its secret')
    .action(withArgs(async (deps, _o, [name]) => {
      const { runMfaRemove } = await import('../commands/mfa.js');
      return runMfaRemove({ name: name! }, deps);
    }));
  for (const cmd of mfa.commands) cmd.exitOverride();
}
