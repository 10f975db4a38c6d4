import { Argument, type Command } from 'commander';
import type { CliKit } from './kit.js';

interface GrantFlags {
  ttl?: string;
}
interface JsonFlags {
  json?: boolean;
}

/** `auth agent start|run|stop|status|grant|grants|revoke` (docs/design.md "auth agent"). */
export function registerAgent({ program, run }: CliKit): void {
  const agent = program
    .command('agent')
    .description('a resident process that keeps tokens in memory, refreshes them ahead of time and answers `auth token` fast')
    .addHelpText('after', '\nExamples:\n  auth agent start\n  auth agent status\n  auth agent grant -p work --ttl 8h     # a token for a forwarded socket (ssh -R)\n  auth agent stop\n');
  agent
    .command('start')
    .description('start the agent in the background and print its socket path')
    .action(run(async (deps) => (await import('../commands/agent.js')).runAgentStart(deps)));
  agent
    .command('run')
    .description('run the agent in the foreground (for systemd, launchd or a terminal)')
    .action(run(async (deps) => (await import('../commands/agent.js')).runAgentRun(deps)));
  agent
    .command('stop')
    .description('stop the agent; it forgets every token and grant it held')
    .action(run(async (deps) => (await import('../commands/agent.js')).runAgentStop(deps)));
  agent
    .command('status')
    .description('pid, socket, uptime and the profiles the agent holds (exit 1 when none runs)')
    .option('--json', 'machine-readable output')
    .action(run<JsonFlags>(async (deps, o) => (await import('../commands/agent.js')).runAgentStatus({ json: Boolean(o.json) }, deps)));
  agent
    .command('grant')
    .description('print a session token (once) that lets a forwarded client get tokens for one profile')
    .option('--ttl <duration>', 'how long it lasts: 90s, 15m, 8h, 7d (at most 30d)', '8h')
    .action(run<GrantFlags>(async (deps, o) => (await import('../commands/agent.js')).runAgentGrant({ ttl: o.ttl ?? '8h', ...(o.profile === undefined ? {} : { profile: o.profile }) }, deps)));
  agent
    .command('grants')
    .description('list the grants (id, profile, expiry; never the token)')
    .option('--json', 'machine-readable output')
    .action(run<JsonFlags>(async (deps, o) => (await import('../commands/agent.js')).runAgentGrants({ json: Boolean(o.json) }, deps)));
  agent
    .command('revoke')
    .description('end a grant now')
    .addArgument(new Argument('<id>', 'the grant id (`auth agent grants`)'))
    .action(function (this: Command) {
      const [id] = this.args;
      return run(async (deps) => (await import('../commands/agent.js')).runAgentRevoke(id!, deps)).call(this);
    });
}
