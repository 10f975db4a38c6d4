import type { Deps } from '../deps.js';
import { gitCredentialErase, gitCredentialGet, setupGit } from '../app/git-credential.js';
import { parseGitCredentialRequest } from '../domain/git-credential.js';
import { AuthError } from '../errors.js';
import { sanitize } from '../ui/text.js';

/** A git credential request is a few short lines; more is not from git. */
const MAX_REQUEST = 64 * 1024;

async function readRequest(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    text += chunk.toString();
    if (text.length > MAX_REQUEST || /(^|\n)\r?\n/.test(text)) break; // a blank line ends the request
  }
  return text;
}

/**
 * docs/design.md §2 `auth git-credential`: git runs this with `get`, `store` or `erase` and
 * the request on stdin. It never prompts and never makes git fail: whatever goes wrong is one
 * line on stderr, nothing on stdout, exit 0, and git asks its next helper (or the person).
 */
export async function runGitCredential(action: string, deps: Deps): Promise<number> {
  const req = parseGitCredentialRequest(await readRequest(deps.io.stdin));
  try {
    if (action === 'get') {
      const res = await gitCredentialGet(req, deps);
      if (res.kind === 'credential') deps.io.stdout.write(res.output);
      else if (res.reason) deps.log.warn(`auth git-credential: ${res.reason}.`);
    } else if (action === 'erase') {
      const res = await gitCredentialErase(req, deps);
      if (res.marked) deps.log.debug(`git rejected the access token of profile ${res.profile}; the next request refreshes it`);
    }
    // `store`: git offers the credential it just used; the token is already stored.
  } catch (e) {
    if (!(e instanceof AuthError) || e.code === 'AUTH_INTERRUPTED') throw e;
    const hint = e.hint ? ` ${e.hint.split('\n')[0]!.trim()}` : '';
    deps.log.warn(`auth git-credential (${sanitize(req.host ?? '', 120)}): ${e.message}${hint}`);
  }
  return 0;
}

/** docs/design.md §2 `auth setup-git`: says what it changed (or would change, with --dry-run). */
export async function runSetupGit(opts: { host: string; profile?: string; dryRun: boolean }, deps: Deps): Promise<void> {
  const res = await setupGit({ host: opts.host, dryRun: opts.dryRun, authPath: deps.authPath, ...(opts.profile === undefined ? {} : { profile: opts.profile }) }, deps);
  const would = res.dryRun ? 'would ' : '';
  if (res.hostAdded) deps.log.info(`${res.dryRun ? 'Would add' : 'Added'} ${res.host} to git.hosts of profile ${res.profile} (${deps.paths.configFile}).`);
  else deps.log.info(`Profile ${res.profile} already serves ${res.host}.`);
  for (const c of res.changes) {
    deps.log.info(`Global git config: ${c.key} ${would}set to:`);
    for (const v of c.after) deps.log.info(`    helper = ${v}`);
    if (c.before.length) deps.log.info(`  (was: ${c.before.map((v) => (v === '' ? '""' : v)).join(', ')})`);
  }
  if (!res.changes.length) deps.log.info('Global git config: already set up; nothing changed.');
  if (!res.dryRun) deps.log.success(`git now asks auth for ${res.host} (profile ${res.profile}).`);
}
