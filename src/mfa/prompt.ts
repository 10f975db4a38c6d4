import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';

/**
 * Codes and secrets come from the terminal, or from the first line of stdin
 * when stdin is not a terminal — never from argv (docs/design.md §2, docs/security.md R101).
 * Prompts go to stderr; typed codes are masked (backup codes must not echo).
 */
export function canPrompt(deps: Deps): boolean {
  return deps.io.stdinIsTTY;
}

const MAX_LINE = 8192;

async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    text += chunk.toString();
    const nl = text.indexOf('\n');
    if (nl >= 0) {
      text = text.slice(0, nl);
      break;
    }
    if (text.length > MAX_LINE) break;
  }
  return text.replace(/\r$/, '').slice(0, MAX_LINE);
}

function prompt(deps: Deps, message: string): Promise<string> {
  return deps.prompter.secret(message, { mask: '*', clearAfter: true });
}

/** A TOTP or backup code: masked TTY prompt, else the first line of stdin. */
export async function readCode(deps: Deps, message: string): Promise<string> {
  const text = canPrompt(deps) ? await prompt(deps, message) : await readFirstLine(deps.io.stdin);
  const code = text.trim();
  if (!code) {
    throw new AuthError('AUTH_USAGE', 'No code was given.', {
      hint: canPrompt(deps) ? 'Type the code from your authenticator app, or a backup code.' : 'Pipe the code on the first line of stdin (e.g. `echo 123456 | auth mfa unlock`), or run the command in a terminal.',
    });
  }
  return code;
}

/** An authenticator URI or secret given as `-`: the first line of stdin, or a masked prompt on a terminal. */
export async function readSecretInput(deps: Deps, what: string): Promise<string> {
  const text = canPrompt(deps) ? await prompt(deps, `Paste the ${what}`) : await readFirstLine(deps.io.stdin);
  return text.trim();
}
