import { Option } from 'commander';
import { intArg, type CliKit } from './kit.js';
import { TOKEN_FORMATS } from '../domain/token-output.js';

interface TokenFlags {
  minTtl: number;
  format: string;
  idToken?: boolean;
  /** false: --no-refresh. */
  refresh: boolean;
}

/** `auth token` (docs/design.md §2); the warm path in src/fast/token.ts parses the same flags. */
export function registerToken({ program, run }: CliKit): void {
  program
    .command('token')
    .description('print a fresh access token on stdout (refreshing it first when needed)')
    .option('--min-ttl <seconds>', 'refresh when the token expires within this many seconds', intArg('--min-ttl'), 300)
    .addOption(new Option('--format <format>', 'output format').choices([...TOKEN_FORMATS]).default('raw'))
    .option('--id-token', 'print the ID token instead')
    .option('--no-refresh', 'never contact the server')
    .addHelpText('after', '\nExamples:\n  auth token\n  curl -H "$(auth token --format header)" https://api.example.com/\n  auth token --format json | jq .expires_at\n  export "$(auth token --format env)"\n')
    .action(run<TokenFlags>(async (deps, o) => {
      const { runToken } = await import('../commands/token.js');
      await runToken({ profile: o.profile, minTtl: o.minTtl, format: o.format, idToken: Boolean(o.idToken), refresh: o.refresh }, deps);
    }));
}
