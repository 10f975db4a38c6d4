import { type CliKit } from './kit.js';

interface LogoutFlags {
  all?: boolean;
  /** false: --no-revoke. */
  revoke: boolean;
  force?: boolean;
}

/** `auth logout` (docs/design.md §2). */
export function registerLogout({ program, run }: CliKit): void {
  program
    .command('logout')
    .description('revoke the tokens at the provider and delete the stored credential')
    .option('--all', 'every profile')
    .option('--no-revoke', 'only delete locally; do not contact the provider')
    .option('--force', 'delete a stored credential even when it cannot be read (wrong passphrase, damaged entry, keychain not answering); nothing is revoked then')
    .addHelpText('after', '\nExamples:\n  auth logout                   # revoke at the provider, then delete the local copy\n  auth logout -p work --no-revoke\n  auth logout --all\n  auth logout -p work --force   # delete a credential that can no longer be read\n')
    .action(run<LogoutFlags>(async (deps, o) => {
      const { runLogout } = await import('../commands/logout.js');
      return runLogout({ profile: o.profile, all: Boolean(o.all), revoke: o.revoke, force: Boolean(o.force) }, deps);
    }));
}
