import type { Deps } from '../deps.js';
import { setupKube, type SetupKubeRequest } from '../app/setup-kube.js';

/** docs/design.md §2 `auth setup-kube`: says what it changed (or would, with --dry-run). */
export function runSetupKube(req: SetupKubeRequest, deps: Deps): void {
  const res = setupKube(req, deps);
  const verb = (done: string, would: string) => (res.dryRun ? would : done);
  if (res.userChange === 'unchanged') deps.log.info(`User ${res.user} in ${res.file} already runs auth for profile ${res.profile}.`);
  else deps.log.info(`${res.userChange === 'added' ? verb('Added', 'Would add') : verb('Updated', 'Would update')} user ${res.user} in ${res.file}: kubectl runs \`auth token --format exec-credential -p ${res.profile}${req.idToken ? ' --id-token' : ''}\`.`);
  if (res.context !== undefined) {
    deps.log.info(res.contextChanged ? `${verb('Pointed', 'Would point')} context ${res.context} at user ${res.user}.` : `Context ${res.context} already uses user ${res.user}.`);
  }
  if (!res.dryRun && (res.userChange !== 'unchanged' || res.contextChanged)) deps.log.success(`kubectl now gets its tokens from auth (profile ${res.profile}).`);
}
