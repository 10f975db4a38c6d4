import type { Command } from 'commander';
import { type CliKit } from './kit.js';

/** `auth profiles`, `use` and `remove` (docs/design.md §2). */
export function registerProfiles({ program, run }: CliKit): void {
  const profiles = program
    .command('profiles')
    .description('list profiles (the active one marked); `use` or `remove` one')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  auth profiles\n  auth profiles use work\n  auth profiles remove old        # logs out first\n')
    .action(run(async (deps, o) => {
      const { runProfilesList } = await import('../commands/profiles.js');
      return runProfilesList({ json: Boolean(o.json) }, deps);
    }));
  profiles
    .command('use <profile>')
    .description('make <profile> the active profile')
    .action(function (this: Command) {
      const [name] = this.args;
      return run(async (deps) => (await import('../commands/profiles.js')).runProfilesUse(name!, deps)).call(this);
    });
  profiles
    .command('remove <profile>')
    .description('log out of <profile> (revoking at the provider) and delete it')
    .action(function (this: Command) {
      const [name] = this.args;
      return run(async (deps) => (await import('../commands/profiles.js')).runProfilesRemove(name!, deps)).call(this);
    });
  for (const cmd of profiles.commands) cmd.exitOverride();
}
