import type { Command } from 'commander';
import { GLOBAL_OPTIONS, type CliKit } from './kit.js';

interface ExecFlags {
  env?: string;
}

/** `auth exec` (docs/design.md §2). */
export function registerExec({ program, run }: CliKit): void {
  // docs/design.md §2 `auth exec`: auth's options go before the command; from the command on, every
  // argument is the child's (its own -p, --help or --), with or without a -- in between.
  const exec = program
    .command('exec')
    .description('run a command with a fresh access token in its environment (never in its arguments)')
    .usage('[options] [--] <command> [args...]')
    .argument('[command...]', 'the command to run and its arguments (options for auth go before it)')
    .option('--env <NAME>', 'environment variable that receives the token (default AUTH_TOKEN)');
  for (const [flags, description] of GLOBAL_OPTIONS) exec.option(flags, description);
  program.passThrough(exec)
    .addHelpText('after', '\nExamples:\n  auth exec -- kubectl get pods\n  auth exec --env GITHUB_TOKEN -- gh api user\n  auth exec -p work -- ./deploy.sh -p prod   # the second -p is ./deploy.sh\'s\n  auth exec -- sh -c \'curl -H "Authorization: Bearer $AUTH_TOKEN" https://api.example.com/\'\n')
    .action(function (this: Command) {
      const command = this.args;
      return run<ExecFlags>(async (deps, o) => {
        const { runExec } = await import('../commands/exec.js');
        return runExec({ profile: o.profile, ...(o.env ? { env: o.env } : {}), command }, deps);
      }).call(this);
    });
}
