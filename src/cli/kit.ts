import { Command, InvalidArgumentError } from 'commander';
import type { Deps } from '../deps.js';
import { ExitCode } from '../errors.js';

/** Options every command accepts (docs/design.md §2). */
export interface Globals {
  profile?: string;
  json?: boolean;
  debug?: boolean;
  color?: boolean;
}

export const intArg = (name: string) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number.`);
  return n;
};
/** A TCP port for the loopback listener: 0 (any free port) to 65535. */
export const portArg = (name: string) => (value: string) => {
  const n = intArg(name)(value);
  if (n > 65535) throw new InvalidArgumentError(`${name} must be a port number from 0 to 65535 (0: any free port).`);
  return n;
};
export const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(/\s+/).filter(Boolean)];

export const GLOBAL_OPTIONS = [
  ['-p, --profile <name>', 'profile to use (env AUTH_PROFILE; default: the active profile)'],
  ['--debug', 'redacted diagnostics on stderr (env AUTH_DEBUG=1)'],
  ['--no-color', 'no colours or spinners (NO_COLOR is honoured too)'],
] as const;
const GLOBAL_KEYS = ['profile', 'debug', 'color'] as const;

/**
 * Program options are read anywhere on the line (`auth token -p work`), but after `exec` they must
 * reach the child: commander's passThroughOptions needs a positionally parsing parent, and a
 * positional program would refuse `auth token -p work`, so it parses positionally only for exec.
 */
export class Program extends Command {
  private readonly passThroughNames = new Set<string>();

  /** `cmd`'s options end at its first argument; it must declare the global options it accepts itself. */
  passThrough(cmd: Command): Command {
    this.enablePositionalOptions(true); // checked by commander when passThroughOptions is turned on
    try {
      cmd.passThroughOptions();
    } finally {
      this.enablePositionalOptions(false);
    }
    this.passThroughNames.add(cmd.name());
    return cmd;
  }

  override parseOptions(args: string[]) {
    let head;
    this.enablePositionalOptions(true);
    try {
      head = super.parseOptions(args); // stops at the subcommand
    } finally {
      this.enablePositionalOptions(false);
    }
    if (this.passThroughNames.has(head.operands[0] ?? '')) return head;
    // Any other subcommand: parse the line as commander always has. The options before the
    // subcommand are read a second time, which only sets the same values again.
    return super.parseOptions(args);
  }
}

type Action<F> = (deps: Deps, opts: F & Globals) => Promise<number | void>;

/**
 * What main.ts hands each command module (src/cli/*.ts): the program to register on, and
 * `run`, which turns an action into a commander action: it reads the command's flags (typed
 * by the module as F), builds the invocation's Deps, and records the exit code.
 */
export interface CliKit {
  program: Program;
  run<F = object>(action: Action<F>): (this: Command) => Promise<void>;
  /** As run, with the command's positional arguments. */
  withArgs<F = object>(action: (deps: Deps, opts: F & Globals, args: string[]) => Promise<number | void>): (this: Command) => Promise<void>;
}

export function makeKit(program: Program, getDeps: (g: Globals) => Deps, setExit: (code: number) => void): CliKit {
  const run = <F = object>(action: Action<F>) =>
    async function (this: Command) {
      const opts = this.optsWithGlobals<F & Globals>();
      // A command that declares a global option itself (exec): a value given to it on the line
      // wins over the program's, whose defaults would otherwise overwrite it.
      for (const key of GLOBAL_KEYS) if (this.getOptionValueSource(key) === 'cli') opts[key] = this.getOptionValue(key);
      const deps = getDeps(opts);
      setExit((await action(deps, opts)) ?? ExitCode.ok);
    };
  const withArgs = <F = object>(action: (deps: Deps, opts: F & Globals, args: string[]) => Promise<number | void>) =>
    function (this: Command) {
      const args = this.args;
      return run<F>((deps, o) => action(deps, o, args)).call(this);
    };
  return { program, run, withArgs };
}
