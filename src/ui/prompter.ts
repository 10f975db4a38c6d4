import type { IO, Prompter } from '../deps.js';
import { interrupted } from '../errors.js';

/**
 * The terminal prompter (Inquirer.js), built by system.ts: prompts go to stderr, input is
 * masked, Ctrl-C or a signal rejects with the interrupt error (exit 130). Layers below the
 * cli only ever see the Prompter port (docs/architecture.md "Layers").
 */
export function createPrompter(io: IO, signal: AbortSignal): Prompter {
  return {
    async secret(message, options = {}) {
      const { password } = await import('@inquirer/prompts');
      try {
        return await password(
          { message, mask: options.mask ?? true },
          { input: io.stdin, output: io.stderr, signal, ...(options.clearAfter ? { clearPromptOnDone: true } : {}) },
        );
      } catch (e) {
        const name = (e as Error)?.name;
        if (name === 'ExitPromptError' || name === 'AbortPromptError' || signal.aborted) throw interrupted();
        throw e;
      }
    },
  };
}
