import { loadConfig, type Config } from '../config/config.js';
import { profileName, resolveProfile, type ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { authCommand, AuthError, ExitCode } from '../errors.js';
import { requireUnlocked } from '../mfa/guard.js';
import type { Credential } from '../domain/credential.js';
import { sanitize } from '../ui/text.js';
import { signOut } from '../app/sign-out.js';

/** What is known about how long the tokens live: the access token's expiry; a refresh token's is up to the provider. */
function expiryNote(cred: Credential, deps: Deps): string {
  const parts: string[] = [];
  if (cred.expiresAt !== undefined && cred.expiresAt > deps.clock.now()) {
    parts.push(`the access token until ${new Date(cred.expiresAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`);
  }
  if (cred.refreshToken) parts.push('the refresh token for as long as the provider lets it live');
  return parts.length ? ` (${parts.join('; ')})` : '';
}

export interface LogoutOptions {
  profile?: string;
  all?: boolean;
  /** commander's --no-revoke sets this false. */
  revoke?: boolean;
  /** Delete a stored credential even when it cannot be read (nothing is revoked then). */
  force?: boolean;
}

/**
 * docs/design.md §2 `auth logout`: revoke at the server when possible, always delete
 * the local copy, report honestly. Exit 1 only when a revocation was attempted
 * and failed; logging out with nothing stored is exit 0.
 *
 * Each profile is logged out under its refresh lock (docs/architecture.md
 * "Locking"), so a refresh in flight finishes first and what it stored is what
 * gets revoked — it cannot write a session back after the logout. A credential
 * that cannot be read (wrong passphrase, keychain not answering, damaged entry)
 * is never deleted, except with --force: it could be the user's only session.
 */
export async function runLogout(opts: LogoutOptions, deps: Deps): Promise<number> {
  const config = loadConfig(deps.paths.configFile);
  const names = opts.all ? Object.keys(config.profiles) : [profileName(config, deps.env, opts.profile)];
  const profiles = names.map((name) => resolveProfile(config, deps.env, { profile: name }));
  // docs/design.md §2: with MFA on, logging out needs an unlock — checked for every profile before any is touched.
  for (const profile of profiles) await requireUnlocked(profile, deps);
  let failed = false;
  for (const profile of profiles) {
    try {
      if (!(await logoutProfile(profile, config, opts, deps))) failed = true;
    } catch (e) {
      // One profile's failure does not stop `--all` from logging out the others.
      if (!opts.all || !(e instanceof AuthError) || e.code === 'AUTH_INTERRUPTED') throw e;
      deps.log.error(e.message);
      if (e.hint) deps.log.info(`  ${e.hint}`);
      failed = true;
    }
  }
  return failed ? ExitCode.failure : ExitCode.ok;
}

/** false when a revocation was attempted and failed (the local copy is gone all the same). */
async function logoutProfile(profile: ResolvedProfile, config: Config, opts: LogoutOptions, deps: Deps): Promise<boolean> {
  const name = profile.name;
  const result = await signOut(profile, config, { revoke: opts.revoke !== false, force: Boolean(opts.force) }, deps);
  switch (result.kind) {
    case 'not-logged-in':
      deps.log.info(`Profile ${name}: not logged in; nothing to do.`);
      return true;
    case 'unreadable-removed':
      deps.log.warn(`Logged out of profile ${name}: the stored credential could not be read (${result.reason}), so it was removed locally without being revoked; its tokens may stay valid at the provider until they expire.`);
      return true;
    case 'keychain-unavailable':
      deps.log.warn(`Profile ${name}: the OS keychain is unavailable here (${result.reason}), so a credential stored in it could not be read, revoked or deleted; any copy in a file was removed. Run \`${authCommand('logout', name)}\` again where the keychain is available if one is stored there.`);
      return true;
    case 'removed':
      deps.log.success(`Logged out of profile ${name}: ${result.why === 'static token' ? 'removed locally (a static token is not revoked by auth; revoke it where it was issued)' : 'removed locally (revocation skipped)'}.`);
      return true;
    case 'revoked':
      deps.log.success(`Logged out of profile ${name}: revoked at server and removed locally.`);
      return true;
    case 'no-revocation-endpoint': {
      // Not a success to celebrate: the refresh token keeps working at the provider.
      let report = `provider has no revocation endpoint; removed locally. The session stays valid at the provider until it expires${expiryNote(result.credential, deps)}`;
      if (result.endSession) report += `; to end it there now, sign out at ${sanitize(result.endSession, 300)}`;
      deps.log.warn(`Logged out of profile ${name}: ${report}.`);
      return true;
    }
    case 'revocation-failed':
      deps.log.warn(`Logged out of profile ${name}: revocation failed (${result.reason}); removed locally — the tokens may stay valid at the provider until they expire.`);
      return false;
  }
}
