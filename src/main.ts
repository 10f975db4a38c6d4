import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Deps } from './deps.js';
import { AuthError, ExitCode, isAbortError } from './errors.js';
import { createSystemDeps } from './system.js';
import { sanitize } from './ui/text.js';
import { VERSION } from './version.js';
import type { FastHandoff } from './fast/token.js';


interface Globals {
  profile?: string;
  json?: boolean;
  debug?: boolean;
  color?: boolean;
}

const intArg = (name: string) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number.`);
  return n;
};
const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(/\s+/).filter(Boolean)];

const GLOBAL_OPTIONS = [
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
class Program extends Command {
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
 * Builds the command tree. Every action resolves to an exit code; this file
 * is the only place that maps errors to exit codes (docs/design.md §6).
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

  const run = (action: (deps: Deps, opts: Record<string, unknown>) => Promise<number | void>) =>
    async function (this: Command) {
      const opts = this.optsWithGlobals() as Record<string, unknown> & Globals;
      // A command that declares a global option itself (exec): a value given to it on the line
      // wins over the program's, whose defaults would otherwise overwrite it.
      for (const key of GLOBAL_KEYS) if (this.getOptionValueSource(key) === 'cli') opts[key] = this.getOptionValue(key);
      const deps = getDeps(opts);
      setExit((await action(deps, opts)) ?? ExitCode.ok);
    };

  program
    .command('setup')
    .description('configure a provider profile interactively (GitHub, Google, Entra ID, GitLab, Okta, Auth0, Keycloak, any OIDC/OAuth 2)')
    .addHelpText('after', '\nNeeds a terminal; without one, use `auth login --issuer <url> --client-id <id>`.\nExamples:\n  auth setup\n  auth setup -p work            # create or edit the profile "work"\n')
    .action(run(async (deps, o) => {
      const { runSetup } = await import('./commands/setup.js');
      const saved = await runSetup(o.profile ? { profile: o.profile as string } : {}, deps);
      if (saved.signInNow) {
        const { runLogin } = await import('./commands/login.js');
        await runLogin({ profile: saved.profile, color: deps.log.color }, deps);
      }
    }));

  program
    .command('login')
    .description('sign in (browser with PKCE, or the device flow when no browser can be shown)')
    .option('--issuer <url>', 'OpenID Connect / OAuth 2 issuer URL (env AUTH_ISSUER)')
    .option('--client-id <id>', 'OAuth client id (env AUTH_CLIENT_ID)')
    .option('--client-secret-env <VAR>', 'name of an environment variable holding the client secret')
    .option('--scope <scopes...>', 'scopes to request (env AUTH_SCOPES)', collect)
    .option('--resource <uri...>', 'resource indicator(s), RFC 8707')
    .option('--device', 'use the device-code flow')
    .option('--browser', 'use the browser flow')
    .option('--no-browser', 'do not launch a browser; print the URL and wait for the callback')
    .option('--port <n>', 'fixed loopback port for the callback (default 0: any free port)', intArg('--port'))
    .option('--timeout <seconds>', 'give up after this many seconds (default 300)', intArg('--timeout'))
    .option('--no-qr', 'do not show a QR code in the device flow')
    .option('--with-token', 'read a token or API key from stdin (never argv) and store it')
    .option('--client-credentials', 'service account: client_credentials grant (secret from --client-secret-env or the profile)')
    .addHelpText('after', '\nExamples:\n  auth login\n  auth login --issuer https://accounts.example.com --client-id my-cli\n  auth login --device            # over SSH or in a container\n  auth login --with-token < token.txt\n  auth login --client-credentials --issuer https://login.example.com --client-id ci-bot --client-secret-env CI_BOT_SECRET\n')
    .action(run(async (deps, o) => {
      const { runLogin } = await import('./commands/login.js');
      const opts: Parameters<typeof runLogin>[0] = { color: deps.log.color };
      if (o.profile) opts.profile = o.profile as string;
      if (o.issuer) opts.issuer = o.issuer as string;
      if (o.clientId) opts.clientId = o.clientId as string;
      if (o.clientSecretEnv) opts.clientSecretEnv = o.clientSecretEnv as string;
      if (o.scope) opts.scope = o.scope as string[];
      if (o.resource) opts.resource = o.resource as string[];
      if (o.device) opts.device = true;
      if (o.browser === true) opts.browser = true;
      if (o.browser === false) opts.launchBrowser = false;
      if (o.port !== undefined) opts.port = o.port as number;
      if (o.timeout !== undefined) opts.timeout = o.timeout as number;
      if (o.qr === false) opts.qr = false;
      if (o.withToken) opts.withToken = true;
      if (o.clientCredentials) opts.clientCredentials = true;
      await runLogin(opts, deps);
    }));

  program
    .command('status')
    .description('show who you are signed in as, token expiry and storage (never a token)')
    .option('--all', 'every profile')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  auth status\n  auth status --all --json\n')
    .action(run(async (deps, o) => {
      const { runStatus } = await import('./commands/status.js');
      return runStatus({ profile: o.profile as string | undefined, all: Boolean(o.all), json: Boolean(o.json) }, deps);
    }));

  program
    .command('token')
    .description('print a fresh access token on stdout (refreshing it first when needed)')
    .option('--min-ttl <seconds>', 'refresh when the token expires within this many seconds', intArg('--min-ttl'), 300)
    .addOption(new Option('--format <format>', 'output format').choices(['raw', 'json', 'header']).default('raw'))
    .option('--id-token', 'print the ID token instead')
    .option('--no-refresh', 'never contact the server')
    .addHelpText('after', '\nExamples:\n  auth token\n  curl -H "$(auth token --format header)" https://api.example.com/\n  auth token --format json | jq .expires_at\n')
    .action(run(async (deps, o) => {
      const { runToken } = await import('./commands/token.js');
      await runToken({ profile: o.profile as string | undefined, minTtl: o.minTtl as number, format: o.format as string, idToken: Boolean(o.idToken), refresh: o.refresh as boolean }, deps);
    }));

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
      return run(async (deps, o) => {
        const { runExec } = await import('./commands/exec.js');
        return runExec({ profile: o.profile as string | undefined, ...(o.env ? { env: o.env as string } : {}), command }, deps);
      }).call(this);
    });

  program
    .command('refresh')
    .description('refresh the access token now if it is close to expiry (or always with --force)')
    .option('--force', 'refresh even if the token is still fresh')
    .addHelpText('after', '\nExamples:\n  auth refresh                  # only when the token is within 5 minutes of expiry\n  auth refresh --force -p work  # now; a rotated refresh token is saved before it returns\n')
    .action(run(async (deps, o) => {
      const { runRefresh } = await import('./commands/refresh.js');
      await runRefresh({ profile: o.profile as string | undefined, force: Boolean(o.force) }, deps);
    }));

  program
    .command('logout')
    .description('revoke the tokens at the provider and delete the stored credential')
    .option('--all', 'every profile')
    .option('--no-revoke', 'only delete locally; do not contact the provider')
    .option('--force', 'delete a stored credential even when it cannot be read (wrong passphrase, damaged entry, keychain not answering); nothing is revoked then')
    .addHelpText('after', '\nExamples:\n  auth logout                   # revoke at the provider, then delete the local copy\n  auth logout -p work --no-revoke\n  auth logout --all\n  auth logout -p work --force   # delete a credential that can no longer be read\n')
    .action(run(async (deps, o) => {
      const { runLogout } = await import('./commands/logout.js');
      return runLogout({ profile: o.profile as string | undefined, all: Boolean(o.all), revoke: o.revoke as boolean, force: Boolean(o.force) }, deps);
    }));

  // docs/design.md §2 `auth mfa`: codes are read from the terminal or stdin, never taken as arguments (docs/security.md R101).
  const mfa = program
    .command('mfa')
    .description('local second factor (TOTP) guarding stored credentials, and a terminal authenticator')
    .addHelpText('after', '\nExamples:\n  auth mfa setup                      # QR code, confirm with a code, print backup codes\n  auth mfa unlock                     # asks for a code; or: echo 123456 | auth mfa unlock\n  auth mfa add github --uri -         # paste an otpauth:// URI\n  auth mfa code github\n');
  const mfaProfile = (name: string, description: string, json = false, examples?: string) => {
    const cmd = mfa.command(name).description(description);
    if (examples) cmd.addHelpText('after', `\nExamples:\n${examples}`);
    if (json) cmd.option('--json', 'machine-readable output');
    return cmd.action(run(async (deps, o) => {
      const m = await import('./commands/mfa.js');
      const opts = { profile: o.profile as string | undefined, json: Boolean(o.json) };
      const runners = { setup: m.runMfaSetup, unlock: m.runMfaUnlock, lock: m.runMfaLock, status: m.runMfaStatus, disable: m.runMfaDisable, 'backup-codes': m.runMfaBackupCodes } as const;
      return runners[name as keyof typeof runners](opts, deps);
    }));
  };
  const withArgs = (action: (deps: Deps, o: Record<string, unknown>, args: string[]) => Promise<number | void>) =>
    function (this: Command) {
      const args = this.args;
      return run((deps, o) => action(deps, o, args)).call(this);
    };
  mfaProfile('setup', 'create a TOTP secret (QR code), confirm it with a code, print 10 backup codes', false,
    '  auth mfa setup -p work > backup-codes.txt   # the codes on stdout; QR code and prompts on the terminal\n');
  mfaProfile('unlock', 'enter a TOTP or backup code to open the unlock window (mfa.unlockMinutes, default 15)', false,
    '  auth mfa unlock                     # asks for the code at a masked prompt\n  echo "$CODE" | auth mfa unlock      # the first line of stdin (never an argument)\n');
  mfaProfile('lock', 'close the unlock window now');
  mfaProfile('status', 'show whether MFA is on, locked or unlocked, and backup codes left', true);
  mfaProfile('disable', 'turn MFA off (needs a code); deletes the secret and backup codes');
  mfaProfile('backup-codes', 'replace the backup codes (needs a code); the old ones stop working');
  mfa
    .command('add <name> [source]')
    .description('add an authenticator entry from an otpauth:// URI or a base32 secret ("-" reads it from stdin)')
    .option('--uri <uri>', 'otpauth://totp/... URI (or - for stdin); its algorithm, digits and period are honoured')
    .option('--secret <base32>', 'base32 secret (or - for stdin)')
    .option('--algorithm <alg>', 'with --secret: SHA1 (default), SHA256 or SHA512')
    .option('--digits <n>', 'with --secret: code length (default 6)', intArg('--digits'))
    .option('--period <seconds>', 'with --secret: time step (default 30)', intArg('--period'))
    .option('--issuer <name>', 'label shown by `auth mfa list`')
    .addHelpText('after', '\nExamples:\n  auth mfa add github --uri -                 # paste the otpauth:// URI on stdin\n  auth mfa add aws --secret - --digits 6      # paste a base32 secret on stdin\n  auth mfa code github\n')
    .action(withArgs(async (deps, o, [name, source]) => {
      const { runMfaAdd } = await import('./commands/mfa.js');
      const opts: Parameters<typeof runMfaAdd>[0] = { name: name! };
      if (source !== undefined) opts.source = source;
      for (const key of ['profile', 'uri', 'secret', 'algorithm', 'issuer'] as const) if (typeof o[key] === 'string') opts[key] = o[key] as string;
      if (o.digits !== undefined) opts.digits = o.digits as number;
      if (o.period !== undefined) opts.period = o.period as number;
      return runMfaAdd(opts, deps);
    }));
  mfa
    .command('code <name>')
    .description('print the current code of an authenticator entry (stdout), seconds left on stderr')
    .addHelpText('after', '\nExamples:\n  auth mfa code github\n  auth mfa code github | pbcopy   # stdout holds only the code\n')
    .action(withArgs(async (deps, _o, [name]) => {
      const { runMfaCode } = await import('./commands/mfa.js');
      return runMfaCode({ name: name! }, deps);
    }));
  mfa
    .command('list')
    .description('list authenticator entries (names and issuers, never secrets)')
    .option('--json', 'machine-readable output')
    .action(run(async (deps, o) => {
      const { runMfaList } = await import('./commands/mfa.js');
      return runMfaList({ json: Boolean(o.json) }, deps);
    }));
  mfa
    .command('remove <name>')
    .description('delete an authenticator entry and its secret')
    .action(withArgs(async (deps, _o, [name]) => {
      const { runMfaRemove } = await import('./commands/mfa.js');
      return runMfaRemove({ name: name! }, deps);
    }));
  for (const cmd of mfa.commands) cmd.exitOverride();

  const profiles = program
    .command('profiles')
    .description('list profiles (the active one marked); `use` or `remove` one')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  auth profiles\n  auth profiles use work\n  auth profiles remove old        # logs out first\n')
    .action(run(async (deps, o) => {
      const { runProfilesList } = await import('./commands/profiles.js');
      return runProfilesList({ json: Boolean(o.json) }, deps);
    }));
  profiles
    .command('use <name>')
    .description('make <name> the active profile')
    .action(function (this: Command) {
      const [name] = this.args;
      return run(async (deps) => (await import('./commands/profiles.js')).runProfilesUse(name!, deps)).call(this);
    });
  profiles
    .command('remove <name>')
    .description('log out of <name> (revoking at the provider) and delete the profile')
    .action(function (this: Command) {
      const [name] = this.args;
      return run(async (deps) => (await import('./commands/profiles.js')).runProfilesRemove(name!, deps)).call(this);
    });
  for (const cmd of profiles.commands) cmd.exitOverride();

  // docs/design.md §2: generated from this tree, so new commands and options show up by themselves.
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', '\nExamples:\n  auth completion bash > ~/.local/share/bash-completion/completions/auth\n  auth completion zsh > "${fpath[1]}/_auth"\n  auth completion fish > ~/.config/fish/completions/auth.fish\n')
    .action(function (this: Command) {
      const [shell] = this.args;
      return run(async (deps) => {
        const { runCompletion } = await import('./commands/completion.js');
        runCompletion(program, shell as 'bash' | 'zsh' | 'fish', deps);
      }).call(this);
    });
  program
    .command('__complete-profiles', { hidden: true })
    .description('profile names for shell completion')
    .action(run(async (deps) => {
      const { runCompleteProfiles } = await import('./commands/completion.js');
      await runCompleteProfiles(deps);
    }));

  return program;
}

/** Entry for bin/: runs the CLI and returns the exit code. */
/** `handoff`: what the `auth token` fast path already learned, when it deferred here (bin.ts). */
export async function main(argv: string[], handoff: FastHandoff = {}): Promise<number> {
  let exitCode: number = ExitCode.ok;
  let deps: Deps | undefined;
  const stderr = process.stderr;
  const program = buildProgram((g) => {
    const debug = Boolean(g.debug) || process.env.AUTH_DEBUG === '1';
    const color = g.color !== false && !('NO_COLOR' in process.env) && Boolean(process.stderr.isTTY);
    deps = createSystemDeps({ color, debug, ...(handoff.secretService ? { secretService: handoff.secretService } : {}) });
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
