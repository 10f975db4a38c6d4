/**
 * git's credential helper protocol (git-credential(1), "INPUT/OUTPUT FORMAT"): `key=value`
 * lines, ended by a blank line or EOF; a key ending in `[]` may repeat. Only what
 * `auth git-credential` needs is kept; unknown keys are ignored, as git asks helpers to.
 */
export interface GitCredentialRequest {
  protocol?: string;
  /** Host name, with `:port` when the URL has one. */
  host?: string;
  path?: string;
  username?: string;
  password?: string;
}

const KEYS = new Set(['protocol', 'host', 'path', 'username', 'password']);

export function parseGitCredentialRequest(text: string): GitCredentialRequest {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l === '') break;
    const eq = l.indexOf('=');
    if (eq <= 0) continue;
    const key = l.slice(0, eq);
    if (KEYS.has(key)) out[key] = l.slice(eq + 1);
  }
  return out;
}

/** Hosts compared as git writes them: case-insensitive name, port kept. */
function sameGitHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** A token may go over plain http only to this machine. */
export function gitTransportAllowed(protocol: string | undefined, host: string): boolean {
  if (protocol === 'https') return true;
  if (protocol !== 'http') return false;
  const name = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return name === '127.0.0.1' || name === 'localhost' || name === '::1';
}

/** The `get` answer: username, the token as password, its expiry when known (epoch seconds). */
export function formatGitCredential(username: string, token: string, expiresAtMs: number | undefined): string {
  const lines = [`username=${username}`, `password=${token}`];
  if (expiresAtMs !== undefined) lines.push(`password_expiry_utc=${Math.floor(expiresAtMs / 1000)}`);
  return `${lines.join('\n')}\n`;
}

/** The username git sends when the profile names none (as GitHub, GitLab and Azure DevOps accept). */
export const DEFAULT_GIT_USERNAME = 'oauth2';

/** The profile whose `git.hosts` lists `host`, or undefined. Several profiles may serve different hosts. */
export function profileForGitHost(profiles: Record<string, { git?: { hosts?: string[] } }>, host: string): string | undefined {
  for (const [name, profile] of Object.entries(profiles)) {
    if (profile.git?.hosts?.some((h) => sameGitHost(h, host))) return name;
  }
  return undefined;
}
