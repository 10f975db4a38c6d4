import type { Deps } from '../deps.js';
import { ExitCode, loginCommand } from '../errors.js';
import { relativeTime, sanitize } from '../ui/text.js';
import { profileStatuses, type ProfileStatus } from '../app/status.js';

export interface StatusOptions {
  profile?: string;
  all?: boolean;
  json?: boolean;
}

/**
 * docs/design.md §2 `auth status`: never prints a token; exit 0 when every shown profile is usable,
 * 1 when a stored credential could not be read, else 4.
 */
export async function runStatus(opts: StatusOptions, deps: Deps): Promise<number> {
  const { rows, unreadable } = await profileStatuses(opts, deps);
  const agent = await agentRows(deps);
  if (opts.json) {
    const profiles = rows.map(({ location: _l, problem: _p, usable: _u, kind: _k, ...rest }) => (agent ? { ...rest, agent: agent(rest.name) } : rest));
    deps.io.stdout.write(`${JSON.stringify({ profiles })}\n`);
  } else if (rows.length === 0) {
    deps.log.info('No profiles are configured.');
    deps.log.info('  Run `auth setup` to add one, or `auth login --issuer <url> --client-id <id>`.');
  } else {
    for (const row of rows) renderRow(row, deps, agent?.(row.name));
  }
  if (unreadable) return ExitCode.failure;
  return rows.length > 0 && rows.every((r) => r.usable) ? ExitCode.ok : ExitCode.authNeeded;
}

interface AgentRow {
  serving: boolean;
  nextRefreshAt: string | null;
}

/**
 * What a running agent holds, per profile (docs/design.md "auth agent"); undefined when no agent
 * answers, and then the output is what it was without one.
 */
async function agentRows(deps: Deps): Promise<((name: string) => AgentRow) | undefined> {
  const { agentStatus } = await import('./agent.js');
  const st = await agentStatus(deps);
  if (!st) return undefined;
  return (name) => {
    const held = st.profiles.find((p) => p.name === name);
    return { serving: Boolean(held), nextRefreshAt: held?.nextRefreshAt ? new Date(held.nextRefreshAt).toISOString() : null };
  };
}

function renderRow(row: ProfileStatus, deps: Deps, agent?: AgentRow): void {
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
  if (agent) out('Agent:', agent.serving ? `serving${agent.nextRefreshAt ? ` (next refresh ${relativeTime(Date.parse(agent.nextRefreshAt) - Date.now())})` : ''}` : 'running, not holding this profile yet (loaded on its first request)');
  if (row.problem) out('Problem:', `${row.problem}. Run \`${loginCommand(row.name)}\`.`);
}
