import type { Config } from '../config/config.js';
import type { ResolvedProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import type { Credential } from '../domain/credential.js';
import { AuthError, ExitCode } from '../errors.js';
import { revokeCredential } from '../flows/revoke.js';
import { acquireProfileLock } from '../store/profile-lock.js';
import { PinnedKeychainUnavailableError } from '../store/select.js';
import { clientSecretFor } from './context.js';

/**
 * What signing out of one profile did (docs/design.md §2 `auth logout`). The command decides
 * the exit code from `kind` (only `revocation-failed` is a failure) and renders the rest.
 */
export type SignOutResult =
  | { kind: 'not-logged-in' }
  | { kind: 'unreadable-removed'; reason: string }
  /** The profile is pinned to a keychain that is not there: files were cleared, the keychain could not be touched. */
  | { kind: 'keychain-unavailable'; reason: string }
  | { kind: 'removed'; why: 'revocation skipped' | 'static token' }
  | { kind: 'revoked' }
  | { kind: 'no-revocation-endpoint'; credential: Credential; endSession?: string }
  | { kind: 'revocation-failed'; reason: string };

/**
 * Revokes at the provider when it can and always deletes the local copy, under the profile's
 * refresh lock (docs/architecture.md "Locking"): a refresh in flight finishes first, and what
 * it stored is what gets revoked. A credential that cannot be read is never deleted, except
 * with `force` (nothing can be revoked then): it could be the user's only session.
 */
export async function signOut(profile: ResolvedProfile, config: Config, opts: { revoke: boolean; force: boolean }, deps: Deps): Promise<SignOutResult> {
  const name = profile.name;
  let store;
  try {
    store = await deps.openStore(profile.storage, name);
  } catch (e) {
    if (!(e instanceof PinnedKeychainUnavailableError)) throw e;
    // Nothing in a keychain that is not there can be read, revoked or deleted; a file copy can.
    await (await deps.openStore('file', name)).delete(name);
    return { kind: 'keychain-unavailable', reason: e.reason };
  }
  const lock = await acquireProfileLock(name, deps);
  try {
    let cred: Credential | undefined;
    try {
      cred = await store.get(name);
    } catch (e) {
      if (!(e instanceof AuthError) || e.code === 'AUTH_INTERRUPTED') throw e;
      if (!opts.force) {
        throw new AuthError(e.code, `Profile ${name}: the stored credential could not be read, so it was neither revoked nor removed. ${e.message}`, {
          exitCode: ExitCode.failure,
          hint: `${e.hint ? `${e.hint}\n  ` : ''}To remove it without revoking it, run \`auth logout -p ${name} --force\`.`,
        });
      }
      await store.delete(name);
      return { kind: 'unreadable-removed', reason: e.message.replace(/\.$/, '') };
    }
    if (!cred) {
      await store.delete(name);
      return { kind: 'not-logged-in' };
    }
    let result: SignOutResult;
    if (!opts.revoke) result = { kind: 'removed', why: 'revocation skipped' };
    // A token stored with --with-token was issued elsewhere; auth has no grant to revoke.
    else if (cred.kind === 'static') result = { kind: 'removed', why: 'static token' };
    else {
      // A missing client secret must not stop a logout: revocation then fails and is reported.
      const secret = await clientSecretFor(profile, deps).catch(() => undefined);
      const outcome = await revokeCredential(cred, config, deps, secret);
      if (outcome.status === 'revoked') result = { kind: 'revoked' };
      else if (outcome.status === 'unsupported') result = { kind: 'no-revocation-endpoint', credential: cred, ...(outcome.endSession ? { endSession: outcome.endSession } : {}) };
      else result = { kind: 'revocation-failed', reason: outcome.reason };
    }
    await store.delete(name);
    return result;
  } finally {
    lock.release();
  }
}
