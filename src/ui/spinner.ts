import type { IO } from '../deps.js';

export interface Spinner {
  stop(): void;
}

/** A spinner on stderr, only on a TTY with colour allowed (docs/design.md §6); otherwise nothing. */
export async function startSpinner(io: IO, color: boolean, text: string): Promise<Spinner> {
  if (!io.stderrIsTTY || !color) return { stop() {} };
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: io.stderr as NodeJS.WriteStream, discardStdin: false }).start();
  return { stop: () => spinner.stop() };
}
