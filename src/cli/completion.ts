import { Argument, type Command } from 'commander';
import { type CliKit } from './kit.js';

/** `auth completion` and the hidden profile lister the scripts call (docs/design.md §2). */
export function registerCompletion({ program, run }: CliKit): void {
  // docs/design.md §2: generated from this tree, so new commands and options show up by themselves.
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', '\nExamples:\n  mkdir -p ~/.local/share/bash-completion/completions && auth completion bash > ~/.local/share/bash-completion/completions/auth\n  mkdir -p ~/.zfunc && auth completion zsh > ~/.zfunc/_auth      # and fpath=(~/.zfunc $fpath) in ~/.zshrc, before compinit\n  mkdir -p ~/.config/fish/completions && auth completion fish > ~/.config/fish/completions/auth.fish\n')
    .action(function (this: Command) {
      const [shell] = this.args;
      return run(async (deps) => {
        const { runCompletion } = await import('../commands/completion.js');
        runCompletion(program, shell as 'bash' | 'zsh' | 'fish', deps);
      }).call(this);
    });
  program
    .command('__complete-profiles', { hidden: true })
    .description('profile names for shell completion')
    .action(run(async (deps) => {
      const { runCompleteProfiles } = await import('../commands/completion.js');
      await runCompleteProfiles(deps);
    }));
}
