import { type CliKit } from './kit.js';

interface RefreshFlags {
  force?: boolean;
}

/** `auth refresh` (docs/design.md §2). */
export function registerRefresh({ program, run }: CliKit): void {
  program
    .command('refresh')
    .description('refresh the access token now if it is close to expiry (or always with --force)')
    .option('--force', 'refresh even if the token is still fresh')
    .addHelpText('after', '\nExamples:\n  auth refresh                  # only when the token is within 5 minutes of expiry\n  auth refresh --force -p work  # now; a rotated refresh token is saved before it returns\n')
    .action(run<RefreshFlags>(async (deps, o) => {
      const { runRefresh } = await import('../commands/refresh.js');
      await runRefresh({ profile: o.profile, force: Boolean(o.force) }, deps);
    }));
}
