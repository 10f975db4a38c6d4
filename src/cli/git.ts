import { Argument, type Command } from 'commander';
import type { CliKit } from './kit.js';

interface SetupGitFlags {
  host: string;
  dryRun?: boolean;
}

/** `auth git-credential` and `auth setup-git` (docs/design.md §2). */
export function registerGit({ program, run }: CliKit): void {
  program
    .command('git-credential')
    .description('git credential helper: git runs this (set it up with `auth setup-git`)')
    .addArgument(new Argument('<action>', 'what git asks').choices(['get', 'store', 'erase']))
    .addHelpText('after', '\nReads git\'s credential request on stdin (git-credential(1)). For a host a profile lists\nunder git.hosts, `get` prints username=, password=<fresh access token> and password_expiry_utc=.\n\nExample:\n  printf \'protocol=https\\nhost=git.example.com\\n\\n\' | auth git-credential get\n')
    .action(function (this: Command) {
      const [action] = this.args;
      return run(async (deps) => {
        const { runGitCredential } = await import('../commands/git-credential.js');
        return runGitCredential(action!, deps);
      }).call(this);
    });
  program
    .command('setup-git')
    .description('make git use auth for a host: adds the host to the profile and sets the helper in your global git config')
    .requiredOption('--host <host[:port]>', 'the git server, as in its URLs (e.g. git.example.com)')
    .option('--dry-run', 'show what would change, change nothing')
    .addHelpText('after', '\nExamples:\n  auth setup-git --host git.example.com\n  auth setup-git --host git.example.com:8443 -p work --dry-run\n')
    .action(run<SetupGitFlags>(async (deps, o) => {
      const { runSetupGit } = await import('../commands/git-credential.js');
      await runSetupGit({ host: o.host, dryRun: Boolean(o.dryRun), ...(o.profile === undefined ? {} : { profile: o.profile }) }, deps);
    }));
}
