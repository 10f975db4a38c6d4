import { loadConfig } from '../config/config.js';
import { profileName, resolveProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { ExitCode } from '../errors.js';
import { revokeCredential } from '../flows/revoke.js';
import { requireUnlocked } from '../mfa/guard.js';
import { clientSecretFor } from './context.js';

export interface LogoutOptions {
  profile?: string;
  all?: boolean;
  /** commander's --no-revoke sets this false. */
  revoke?: boolean;
  /** --force: delete a stored credential even when it cannot be read; nothing is revoked then. */
  force?: boolean;
}

/**
 * DESIGN §2 `auth logout`: revoke at the server when possible, always delete
 * the local copy, report honestly. Exit 1 only when a revocation was attempted
 * and failed; logging out with nothing stored is exit 0.
 */
export async function runLogout(opts: LogoutOptions, deps: Deps): Promise<number> {
  const config = loadConfig(deps.paths.configFile);
  const names = opts.all ? Object.keys(config.profiles) : [profileName(config, deps.env, opts.profile)];
  let failed = false;
  // DESIGN §2: with MFA on, logging out needs an unlock — checked for every profile before any is touched.
  for (const name of names) await requireUnlocked(resolveProfile(config, { ...deps.env, AUTH_PROFILE: name }, {}), deps);
  for (const name of names) {
    const profile = resolveProfile(config, { ...deps.env, AUTH_PROFILE: name }, {});
    const store = await deps.openStore(profile.storage, name);
    let cred;
    try {
      cred = await store.get(name);
    } catch (e) {
      deps.log.warn(`Could not read the stored credential for profile ${name} (${(e as Error).message}); removing it locally.`);
    }
    if (!cred) {
      await store.delete(name);
      deps.log.info(`Profile ${name}: not logged in; nothing to do.`);
      continue;
    }
    let report: string;
    if (opts.revoke === false) {
      report = 'removed locally (revocation skipped)';
    } else if (cred.kind === 'static') {
      // A token stored with --with-token was issued elsewhere; auth has no grant to revoke.
      report = 'removed locally (a static token is not revoked by auth; revoke it where it was issued)';
    } else {
      // A missing client secret must not stop a logout: revocation then fails and is reported.
      const secret = await clientSecretFor(profile, deps).catch(() => undefined);
      const outcome = await revokeCredential(cred, deps, secret);
      if (outcome.status === 'revoked') report = 'revoked at server and removed locally';
      else if (outcome.status === 'unsupported') report = 'provider has no revocation endpoint; removed locally';
      else {
        failed = true;
        report = `revocation failed (${outcome.reason}); removed locally — the tokens may stay valid at the provider until they expire`;
      }
    }
    await store.delete(name);
    if (report.startsWith('revocation failed')) deps.log.warn(`Logged out of profile ${name}: ${report}.`);
    else deps.log.success(`Logged out of profile ${name}: ${report}.`);
  }
  return failed ? ExitCode.failure : ExitCode.ok;
}
