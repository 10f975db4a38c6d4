import { loadConfig } from '../config/config.js';
import { profileName, resolveProfile } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { accountLabel, type Credential } from '../domain/credential.js';
import { isExpired } from '../domain/token-plan.js';
import { AuthError, ExitCode } from '../errors.js';
import { mfaStatusLabel } from '../mfa/state.js';

/** One profile as `auth status` reports it (docs/design.md §2); the --json shape leaves out the last four. */
export interface ProfileStatus {
  name: string;
  active: boolean;
  issuer: string | null;
  account: string | null;
  scopes: string[];
  expiresAt: string | null;
  refreshable: boolean;
  storage: string;
  loggedIn: boolean;
  mfa: string;
  /** not in --json: where the credential lives, and why it is unusable. */
  location?: string;
  problem?: string;
  usable: boolean;
  kind?: Credential['kind'];
}

/**
 * What `auth status` knows about the chosen profile, or every profile: read-only (it never
 * refreshes or deletes). `unreadable`: a stored credential could not be read (wrong
 * passphrase, keychain not answering) — not the same as "not logged in".
 */
export async function profileStatuses(opts: { profile?: string; all?: boolean }, deps: Deps): Promise<{ rows: ProfileStatus[]; unreadable: boolean }> {
  const config = loadConfig(deps.paths.configFile);
  const chosen = profileName(config, deps.env, opts.profile);
  const names = opts.all ? [...new Set([...Object.keys(config.profiles), ...(opts.profile ? [chosen] : [])])] : [chosen];
  const rows: ProfileStatus[] = [];
  let unreadable = false;
  for (const name of names) {
    const profile = resolveProfile(config, deps.env, { profile: name });
    const row: ProfileStatus = {
      name,
      active: (config.active ?? 'default') === name,
      issuer: profile.issuer ?? null,
      account: null,
      scopes: [],
      expiresAt: null,
      refreshable: false,
      storage: profile.storage ?? 'keychain',
      loggedIn: false,
      mfa: mfaStatusLabel(deps, name, profile.mfa.required),
      usable: false,
    };
    try {
      const store = await deps.openStore(profile.storage, name);
      const cred = await store.get(name);
      // After the read: it settles whether the keychain answered (else the file fallback holds it).
      row.storage = store.kind;
      row.location = store.describe(name);
      if (cred) {
        row.loggedIn = true;
        row.kind = cred.kind;
        row.issuer = cred.issuer;
        row.account = accountLabel(cred.account) ?? null;
        row.scopes = cred.scope.split(' ').filter(Boolean);
        // A credential stored before lifetimes were capped (flows/tokens.ts) may hold an expiry no Date can show.
        const expires = cred.expiresAt !== undefined ? new Date(cred.expiresAt) : undefined;
        row.expiresAt = expires && Number.isFinite(expires.getTime()) ? expires.toISOString() : null;
        row.refreshable = Boolean(cred.refreshToken) || cred.kind === 'client_credentials';
        row.usable = row.refreshable || !isExpired(cred, deps.clock.now());
        if (!row.usable) row.problem = 'the access token has expired and cannot be refreshed';
      }
    } catch (e) {
      row.problem = e instanceof AuthError ? e.message : String(e);
      // A credential that could not be read (wrong passphrase, keychain not answering) is not
      // "not logged in": the exit status says the check failed (1), not that a login is needed (4).
      if (!(e instanceof AuthError) || e.exitCode !== ExitCode.authNeeded) unreadable = true;
    }
    rows.push(row);
  }

  return { rows, unreadable };
}
