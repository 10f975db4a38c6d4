import { intArg, collect, portArg, type CliKit } from './kit.js';

interface LoginFlags {
  issuer?: string;
  clientId?: string;
  clientSecretEnv?: string;
  scope?: string[];
  resource?: string[];
  device?: boolean;
  /** true: --browser; false: --no-browser. */
  browser?: boolean;
  port?: number;
  timeout?: number;
  qr?: boolean;
  withToken?: boolean;
  clientCredentials?: boolean;
}

/** `auth login` (docs/design.md §2): its flags, bound into LoginOptions. */
export function registerLogin({ program, run }: CliKit): void {
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
    .option('--port <n>', 'fixed loopback port for the callback (default 0: any free port)', portArg('--port'))
    .option('--timeout <seconds>', 'give up after this many seconds (default 300)', intArg('--timeout'))
    .option('--no-qr', 'do not show a QR code in the device flow')
    .option('--with-token', 'read a token or API key from stdin (never argv) and store it')
    .option('--client-credentials', 'service account: client_credentials grant (secret from --client-secret-env or the profile)')
    .addHelpText('after', '\nExamples:\n  auth login\n  auth login --issuer https://accounts.example.com --client-id my-cli\n  auth login --device            # over SSH or in a container\n  auth login --with-token < token.txt\n  auth login --client-credentials --issuer https://login.example.com --client-id ci-bot --client-secret-env CI_BOT_SECRET\n')
    .action(run<LoginFlags>(async (deps, o) => {
      const { runLogin } = await import('../commands/login.js');
      const opts: Parameters<typeof runLogin>[0] = { color: deps.log.color };
      if (o.profile) opts.profile = o.profile;
      if (o.issuer) opts.issuer = o.issuer;
      if (o.clientId) opts.clientId = o.clientId;
      if (o.clientSecretEnv) opts.clientSecretEnv = o.clientSecretEnv;
      if (o.scope) opts.scope = o.scope;
      if (o.resource) opts.resource = o.resource;
      if (o.device) opts.device = true;
      if (o.browser === true) opts.browser = true;
      if (o.browser === false) opts.launchBrowser = false;
      if (o.port !== undefined) opts.port = o.port;
      if (o.timeout !== undefined) opts.timeout = o.timeout;
      if (o.qr === false) opts.qr = false;
      if (o.withToken) opts.withToken = true;
      if (o.clientCredentials) opts.clientCredentials = true;
      await runLogin(opts, deps);
    }));
}
