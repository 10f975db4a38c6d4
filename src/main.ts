import { CommanderError, type Command } from 'commander';
import { GLOBAL_OPTIONS, makeKit, Program, type Globals } from './cli/kit.js';
import { registerAgent } from './cli/agent.js';
import { registerCompletion } from './cli/completion.js';
import { registerExec } from './cli/exec.js';
import { registerGit } from './cli/git.js';
import { registerKube } from './cli/kube.js';
import { registerLogin } from './cli/login.js';
import { registerLogout } from './cli/logout.js';
import { registerMfa } from './cli/mfa.js';
import { registerProfiles } from './cli/profiles.js';
import { registerRefresh } from './cli/refresh.js';
import { registerSetup } from './cli/setup.js';
import { registerStatus } from './cli/status.js';
import { registerToken } from './cli/token.js';
import type { Deps } from './deps.js';
import { AuthError, ExitCode, isAbortError } from './errors.js';
import { createSystemDeps } from './system.js';
import { sanitize } from './ui/text.js';
import { VERSION } from './version.js';
import type { FastHandoff } from './fast/token.js';

const NEWCOMER_HELP = `
Getting started:
  auth setup     configure a provider profile (interactive)
  auth login     sign in through the browser (or a device code over SSH)
  auth status    show who you are signed in as

Examples:
  auth login --issuer https://login.example.com --client-id my-cli
  auth token                          # print a fresh access token
  curl -H "$(auth token --format header)" https://api.example.com/me
  auth exec -- kubectl get pods       # token in $AUTH_TOKEN for the child
`;

/**
 * Assembles the command tree from the command modules in src/cli/ (each binds its own flags
 * into its typed options). Every action resolves to an exit code; this file is the only place
 * that maps errors to exit codes (docs/design.md §6).
 */
export function buildProgram(getDeps: (g: Globals) => Deps, setExit: (code: number) => void): Command {
  const program = new Program('auth')
    .description('Sign in to OAuth 2 / OpenID Connect providers from the terminal and hand fresh tokens to scripts.')
    .version(VERSION, '-V, --version');
  for (const [flags, description] of GLOBAL_OPTIONS) program.option(flags, description);
  program
    .showSuggestionAfterError(true)
    .addHelpText('after', NEWCOMER_HELP)
    .configureHelp({ sortSubcommands: false });

  const kit = makeKit(program, getDeps, setExit);
  // The order here is the order of `auth --help`.
  for (const register of [registerSetup, registerLogin, registerStatus, registerToken, registerExec, registerRefresh, registerLogout, registerMfa, registerProfiles, registerGit, registerKube, registerAgent, registerCompletion]) register(kit);

  return program;
}

/**
 * Entry for bin/: runs the CLI and returns the exit code. `handoff`: what the `auth token`
 * fast path already learned, when it deferred here (bin.ts).
 */
export async function main(argv: string[], handoff: FastHandoff = {}): Promise<number> {
  let exitCode: number = ExitCode.ok;
  let deps: Deps | undefined;
  const stderr = process.stderr;
  const program = buildProgram((g) => {
    const debug = Boolean(g.debug) || process.env.AUTH_DEBUG === '1';
    const color = g.color !== false && !('NO_COLOR' in process.env) && Boolean(process.stderr.isTTY);
    deps = createSystemDeps({ color, debug, ...(handoff.secretService ? { secretService: handoff.secretService } : {}), ...(handoff.stdinPrefix !== undefined ? { stdin: { prefix: handoff.stdinPrefix, complete: Boolean(handoff.stdinComplete) } } : {}), ...(handoff.agentAsked ? { agentAsked: true } : {}) });
    return deps;
  }, (code) => (exitCode = code));
  program.exitOverride();
  // docs/security.md R85/R86: `--token=VALUE` (or `--client-secret=…`) is an unknown option, and commander's
  // message would echo VALUE onto stderr (and into CI logs); keep the option name only.
  // A long unknown command or argument is most likely a pasted token: show only its start.
  const writeErr = (s: string) => stderr.write(
    s.replace(/(unknown option '[^'=]*)=[^']*'/g, "$1=…'").replace(/((?:unknown command|too many arguments[^']*?) ')([^']{25,})'/g, (_m, lead: string, arg: string) => `${lead}${arg.slice(0, 4)}…'`),
  );
  program.configureOutput({ writeErr, writeOut: (s) => process.stdout.write(s) });
  const configure = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeErr });
    cmd.commands.forEach(configure);
  };
  program.commands.forEach(configure);

  // Output that cannot be written (a full disk) is a failure to report, not a crash; a reader that
  // closed the pipe early (`| head -1`) wanted no more, as with any Unix tool.
  process.stdout.once('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') return;
    stderr.write(`error: could not write the output (${e.code ?? e.message}).\n`);
    process.on('exit', () => {
      process.exitCode = ExitCode.failure;
    });
  });
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    // docs/security.md R03: certificate checks are never disabled.
    stderr.write('error: NODE_TLS_REJECT_UNAUTHORIZED=0 turns off TLS certificate checks, which would let anyone on the network steal your tokens.\n  Unset it; for a corporate CA use NODE_EXTRA_CA_CERTS=/path/to/ca.pem instead.\n');
    return ExitCode.usage;
  }
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.ok;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    return reportError(e, deps);
  }
}

function reportError(e: unknown, deps: Deps | undefined): number {
  const write = (line: string) => process.stderr.write(`${line}\n`);
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.ok;
    return ExitCode.usage;
  }
  if (e instanceof AuthError) {
    if (e.code === 'AUTH_INTERRUPTED') {
      write('Interrupted.');
      return ExitCode.interrupted;
    }
    if (deps) deps.log.error(e.message);
    else write(`error: ${e.message}`);
    if (e.hint) write(`  ${e.hint}`);
    return e.exitCode;
  }
  if (isAbortError(e)) {
    write('Interrupted.');
    return ExitCode.interrupted;
  }
  // An unexpected failure: say so without dumping the object (library errors carry secrets in `cause`).
  const message = e instanceof Error ? `${e.name}: ${sanitize(e.message, 300)}` : 'unknown error';
  write(`error: unexpected failure (${message}).`);
  if (deps?.log.debugEnabled && e instanceof Error && e.stack) write(sanitize(e.stack.split('\n').slice(1, 6).join('\n'), 2000));
  write('  Run again with --debug for details; please report it if it persists.');
  return ExitCode.failure;
}
