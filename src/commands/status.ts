import type { Deps } from '../deps.js';
import { AuthError, ExitCode, loginCommand } from '../errors.js';
import { accountLabel, type Credential } from '../domain/credential.js';
import { isExpired } from '../domain/token-plan.js';
import { relativeTime, sanitize } from '../ui/text.js';
import { loadConfig } from '../config/config.js';
import { profileName, resolveProfile } from '../config/resolve.js';
import { mfaStatusLabel } from '../mfa/state.js';

export interface StatusOptions {
  profile?: string;
  all?: boolean;
  json?: boolean;
}

interface ProfileStatus {
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
 * docs/design.md §2 `auth status`: never prints a token; exit 0 when every shown profile is usable,
 * 1 when a stored credential could not be read, else 4.
 */
export async function runStatus(opts: StatusOptions, deps: Deps): Promise<number> {
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

  if (opts.json) {
    const profiles = rows.map(({ location: _l, problem: _p, usable: _u, kind: _k, ...rest }) => rest);
    deps.io.stdout.write(`${JSON.stringify({ profiles })}\n`);
  } else if (rows.length === 0) {
    deps.log.info('No profiles are configured.');
    deps.log.info('  Run `auth setup` to add one, or `auth login --issuer <url> --client-id <id>`.');
  } else {
    for (const row of rows) renderRow(row, deps);
  }
  if (unreadable) return ExitCode.failure;
  return rows.length > 0 && rows.every((r) => r.usable) ? ExitCode.ok : ExitCode.authNeeded;
}

function renderRow(row: ProfileStatus, deps: Deps): void {
  const out = (label: string, value: string) => deps.log.info(`  ${label.padEnd(9)} ${value}`);
  deps.log.info(`${row.name}${row.active ? ' (active)' : ''}`);
  if (row.issuer) out('Issuer:', sanitize(row.issuer));
  if (!row.loggedIn) {
    deps.log.info(`  ${row.problem ? `Problem: ${row.problem}` : `Not logged in. Run \`${loginCommand(row.name)}\`.`}`);
    if (row.mfa !== 'off') out('MFA:', row.mfa);
    return;
  }
  out('Account:', row.account ? sanitize(row.account, 120) : 'unknown');
  out('Scopes:', row.scopes.length ? sanitize(row.scopes.join(' ')) : '(none reported)');
  if (row.expiresAt) {
    const at = Date.parse(row.expiresAt);
    const delta = at - deps.clock.now();
    out('Token:', `${delta > 0 ? 'valid, expires' : 'expired'} ${relativeTime(delta)} (${row.expiresAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')})`);
  } else {
    out('Token:', row.kind === 'static' ? 'static token (no expiry known)' : 'no expiry reported');
  }
  out('Refresh:', row.refreshable ? 'yes' : 'no refresh token');
  out('Storage:', row.location ?? row.storage);
  out('MFA:', row.mfa);
  if (row.problem) out('Problem:', `${row.problem}. Run \`${loginCommand(row.name)}\`.`);
}
