import type { Config } from '../config/config.js';
import type { Deps } from '../deps.js';
import { usageError } from '../errors.js';
import { getToken } from '../app/get-token.js';
import { loadProfile } from '../app/context.js';
import { DEFAULT_MIN_TTL_S } from '../domain/token-plan.js';
import { askAgentFirst } from './token.js';
import { sanitize } from '../ui/text.js';

export interface ExecOptions {
  profile?: string;
  /** Name of the environment variable that receives the token (default AUTH_TOKEN). */
  env?: string;
  /** The command and its arguments: everything from the command on, untouched (a `--` before it is dropped). */
  command: string[];
}

const DEFAULT_TOKEN_VARIABLE = 'AUTH_TOKEN';

/** Secrets auth itself reads from the environment, whatever the profile. */
const AUTH_SECRET_VARIABLES = ['AUTH_PASSPHRASE'];

/**
 * The child's environment: ours without auth's own secrets. The child gets one access token
 * for one profile; AUTH_PASSPHRASE would decrypt every profile's encrypted-file credential,
 * and a client-secret variable (of any profile) would let it mint tokens itself.
 */
function childEnvironment(env: NodeJS.ProcessEnv, config: Config, flagSecretEnv: string | undefined): NodeJS.ProcessEnv {
  const child = { ...env };
  const secrets = new Set(AUTH_SECRET_VARIABLES);
  if (flagSecretEnv) secrets.add(flagSecretEnv);
  for (const p of Object.values(config.profiles)) if (p.clientSecretEnv) secrets.add(p.clientSecretEnv);
  for (const name of secrets) delete child[name];
  return child;
}
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * docs/design.md §2 `auth exec [--env NAME] -- cmd args…`: a fresh access token in the
 * child's environment only — never in its argv (docs/security.md R85), which other
 * users can read — stdio inherited, signals forwarded, the child's exit code
 * returned (128 + n when a signal ended it).
 */
export async function runExec(opts: ExecOptions, deps: Deps): Promise<number> {
  const name = opts.env ?? DEFAULT_TOKEN_VARIABLE;
  if (!VARIABLE_NAME.test(name)) throw usageError(`--env must be an environment variable name (letters, digits and _), not "${sanitize(name, 64)}".`);
  const [file, ...args] = opts.command;
  if (!file) throw usageError('auth exec needs a command to run.', 'Put it after --, for example: auth exec -- kubectl get pods');
  const flags = opts.profile === undefined ? {} : { profile: opts.profile };
  const fromAgent = await askAgentFirst(deps, { ...flags, minTtl: DEFAULT_MIN_TTL_S, idToken: false, format: 'raw' });
  const { config, profile, token } = fromAgent !== undefined
    ? { ...loadProfile(deps, flags), token: fromAgent.replace(/\n$/, '') }
    : await getToken({ guarded: true, serveValidOnOutage: true, ...flags }, deps).then((r) => ({ ...r, token: r.credential.accessToken }));
  const outcome = await deps.runChild(file, args, { ...childEnvironment(deps.env, config, profile.clientSecretEnv), [name]: token });
  if ('exitCode' in outcome) return outcome.exitCode;
  // Shell conventions: 127 command not found, 126 found but not runnable.
  const notFound = outcome.spawnError === 'ENOENT';
  deps.log.error(`Could not run ${sanitize(file, 200)}: ${notFound ? 'command not found' : sanitize(outcome.spawnError, 80)}.`);
  if (notFound) deps.log.info('  Check the name and your PATH; the command goes after --, e.g. auth exec -- kubectl get pods');
  return notFound ? 127 : 126;
}
