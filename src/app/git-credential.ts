import { timingSafeEqual } from 'node:crypto';
import type { Deps } from '../deps.js';
import { DEFAULT_GIT_USERNAME, formatGitCredential, gitTransportAllowed, profileForGitHost, type GitCredentialRequest } from '../domain/git-credential.js';
import { acquireProfileLock } from '../store/profile-lock.js';
import { updateConfig } from '../config/config.js';
import { AuthError } from '../errors.js';
import { loadProfile, requireConfigured, storeFor } from './context.js';
import { getToken } from './get-token.js';

/**
 * `auth git-credential get|store|erase` (docs/design.md §2): git asks for a credential for a
 * URL; the profile whose `git.hosts` lists that host answers with a fresh access token, by
 * the same token rule as `auth token` (MFA included). Hosts no profile lists get nothing, so
 * git moves on to its next helper.
 */

export type GitGetResult =
  | { kind: 'not-served'; reason?: string }
  | { kind: 'credential'; profile: string; output: string };

export async function gitCredentialGet(req: GitCredentialRequest, deps: Deps): Promise<GitGetResult> {
  if (!req.host) return { kind: 'not-served' };
  const { config } = loadProfile(deps, {});
  const profile = profileForGitHost(config.profiles, req.host);
  if (!profile) return { kind: 'not-served' };
  if (!gitTransportAllowed(req.protocol, req.host)) {
    return { kind: 'not-served', reason: `profile ${profile} serves ${req.host}, but not over ${req.protocol ?? 'an unknown protocol'}: a token goes over https only (plain http only to this machine)` };
  }
  const { credential } = await getToken({ profile, guarded: true, serveValidOnOutage: true }, deps);
  const username = config.profiles[profile]?.git?.username ?? DEFAULT_GIT_USERNAME;
  return { kind: 'credential', profile, output: formatGitCredential(username, credential.accessToken, credential.expiresAt) };
}

/**
 * git says the password it used was rejected. When that is the stored access token, it is
 * marked expired (under the profile lock), so the next `get` refreshes first — or, with no
 * refresh token, says to sign in again. Anything else is left alone.
 */
export async function gitCredentialErase(req: GitCredentialRequest, deps: Deps): Promise<{ profile?: string; marked: boolean }> {
  if (!req.host || !req.password) return { marked: false };
  const { config } = loadProfile(deps, {});
  const name = profileForGitHost(config.profiles, req.host);
  if (!name) return { marked: false };
  const { profile } = loadProfile(deps, { profile: name });
  const store = await storeFor(profile, deps);
  const lock = await acquireProfileLock(name, deps);
  try {
    const cred = await store.get(name);
    if (!cred || !sameSecret(cred.accessToken, req.password)) return { profile: name, marked: false };
    await store.set(name, { ...cred, expiresAt: Math.min(cred.expiresAt ?? Infinity, deps.clock.now() - 1000) });
    return { profile: name, marked: true };
  } finally {
    lock.release();
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `host` or `host:port`, as git writes it in the credential request (IPv6 in brackets). */
const GIT_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export interface SetupGitRequest {
  host: string;
  profile?: string;
  dryRun: boolean;
  /** The absolute path git runs (this auth). */
  authPath: string;
}

interface GitConfigChange {
  key: string;
  before: string[];
  after: string[];
}

export interface SetupGitResult {
  profile: string;
  host: string;
  /** false when the profile already listed the host. */
  hostAdded: boolean;
  changes: GitConfigChange[];
  dryRun: boolean;
}

/** A value for a shell (git runs `!…` helpers with sh): single-quoted. */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `auth setup-git`: lists the host under the profile's `git.hosts` and points git's global
 * config at this auth for that host, as `gh auth setup-git` does: an empty `helper =` first
 * (so helpers configured for every host are not asked for this one), then
 * `!'<auth>' git-credential`. Run again, it changes nothing. A loopback host is set up for
 * http as well as https (a local git server; tokens go over plain http only to this machine).
 */
export async function setupGit(req: SetupGitRequest, deps: Deps): Promise<SetupGitResult> {
  const host = req.host.trim();
  if (!GIT_HOST.test(host)) {
    throw new AuthError('AUTH_USAGE', `--host must be a host name, optionally with :port (as in the git URL), got "${host.slice(0, 100)}".`, { hint: 'For https://git.example.com/org/repo.git run `auth setup-git --host git.example.com`.' });
  }
  const { config, profile } = loadProfile(deps, req.profile === undefined ? {} : { profile: req.profile });
  requireConfigured(profile);
  const other = profileForGitHost(config.profiles, host);
  if (other !== undefined && other !== profile.name) {
    throw new AuthError('AUTH_USAGE', `Profile ${other} already serves git host ${host}.`, { hint: `Remove it from \`git.hosts\` of profile ${other} in ${deps.paths.configFile} first.` });
  }
  const hostAdded = other === undefined;
  if (hostAdded && !req.dryRun) {
    updateConfig(deps.paths.configFile, (c) => {
      const p = (c.profiles[profile.name] ??= {});
      p.git = { ...p.git, hosts: [...(p.git?.hosts ?? []), host] };
    });
  }
  const helper = `!${shellQuote(req.authPath)} git-credential`;
  const urls = [`https://${host}`, ...(gitTransportAllowed('http', host) ? [`http://${host}`] : [])];
  const changes: GitConfigChange[] = [];
  for (const url of urls) {
    const key = `credential.${url}.helper`;
    const got = await git(['config', '--global', '--get-all', key], deps, [0, 1]);
    const before = got.stdout === '' ? [] : got.stdout.replace(/\n$/, '').split('\n');
    const after = ['', helper];
    if (before.length === after.length && before.every((v, i) => v === after[i])) continue;
    changes.push({ key, before, after });
    if (req.dryRun) continue;
    await git(['config', '--global', '--replace-all', key, ''], deps);
    await git(['config', '--global', '--add', key, helper], deps);
  }
  return { profile: profile.name, host, hostAdded, changes, dryRun: req.dryRun };
}

async function git(args: string[], deps: Deps, okCodes = [0]): Promise<{ stdout: string }> {
  const res = await deps.runCapture('git', args, deps.env);
  if ('spawnError' in res) {
    throw new AuthError('AUTH_FAILED', `Could not run git (${res.spawnError}).`, { hint: 'Install git, or make sure it is on PATH.' });
  }
  if (!okCodes.includes(res.exitCode)) {
    throw new AuthError('AUTH_FAILED', `\`git ${args.slice(0, 3).join(' ')}\` failed (exit ${res.exitCode}): ${res.stderr.trim().split('\n')[0] ?? ''}`);
  }
  return { stdout: res.stdout };
}
