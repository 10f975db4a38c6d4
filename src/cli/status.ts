import { type CliKit } from './kit.js';

interface StatusFlags {
  all?: boolean;
}

/** `auth status` (docs/design.md §2). */
export function registerStatus({ program, run }: CliKit): void {
  program
    .command('status')
    .description('show who you are signed in as, token expiry and storage (never a token)')
    .option('--all', 'every profile')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  auth status\n  auth status --all --json\n')
    .action(run<StatusFlags>(async (deps, o) => {
      const { runStatus } = await import('../commands/status.js');
      return runStatus({ profile: o.profile, all: Boolean(o.all), json: Boolean(o.json) }, deps);
    }));
}
