/**
 * The one credential per profile (docs/design.md §4). In memory it is camelCase with
 * epoch-millisecond times; on disk and in keychain secrets it is the snake_case
 * shape docs/design.md §4 fixes, with `expires_at` in epoch seconds.
 */
export type CredentialKind = 'oauth' | 'static' | 'client_credentials';

export interface Account {
  sub?: string;
  email?: string;
  name?: string;
  username?: string;
}

export interface Credential {
  kind: CredentialKind;
  accessToken: string;
  tokenType: string;
  /** epoch ms; undefined when the server did not say (static tokens, GitHub). */
  expiresAt?: number;
  refreshToken?: string;
  idToken?: string;
  /**
   * epoch ms: the ID token's own `exp`, read from its validated claims when it arrived.
   * Absent in credentials stored before it was recorded: store/freshness.ts then reads
   * it from the stored token itself.
   */
  idTokenExpiresAt?: number;
  scope: string;
  issuer: string;
  clientId: string;
  account?: Account;
  resources?: string[];
  obtainedAt: number;
}

export function serializeCredential(c: Credential): string {
  return JSON.stringify({
    version: 1,
    kind: c.kind,
    access_token: c.accessToken,
    token_type: c.tokenType,
    expires_at: c.expiresAt === undefined ? null : Math.floor(c.expiresAt / 1000),
    refresh_token: c.refreshToken,
    id_token: c.idToken,
    id_token_expires_at: c.idTokenExpiresAt === undefined ? undefined : Math.floor(c.idTokenExpiresAt / 1000),
    scope: c.scope,
    issuer: c.issuer,
    client_id: c.clientId,
    account: c.account,
    resources: c.resources,
    obtained_at: Math.floor(c.obtainedAt / 1000),
  });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Returns undefined for anything that is not a well-formed stored credential. */
export function parseCredential(text: string): Credential | undefined {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const accessToken = str(raw.access_token);
  const issuer = str(raw.issuer);
  if (!accessToken || !issuer) return undefined;
  const kind: CredentialKind = raw.kind === 'static' || raw.kind === 'client_credentials' ? raw.kind : 'oauth';
  const cred: Credential = {
    kind,
    accessToken,
    tokenType: str(raw.token_type) ?? 'Bearer',
    scope: typeof raw.scope === 'string' ? raw.scope : '',
    issuer,
    clientId: str(raw.client_id) ?? '',
    obtainedAt: typeof raw.obtained_at === 'number' ? raw.obtained_at * 1000 : 0,
  };
  if (typeof raw.expires_at === 'number') cred.expiresAt = raw.expires_at * 1000;
  const rt = str(raw.refresh_token);
  if (rt) cred.refreshToken = rt;
  const idt = str(raw.id_token);
  if (idt) cred.idToken = idt;
  if (idt && typeof raw.id_token_expires_at === 'number') cred.idTokenExpiresAt = raw.id_token_expires_at * 1000;
  if (raw.account && typeof raw.account === 'object') cred.account = raw.account as Account;
  if (Array.isArray(raw.resources)) cred.resources = raw.resources.filter((r): r is string => typeof r === 'string');
  return cred;
}

export function accountLabel(account: Account | undefined): string | undefined {
  return account?.email ?? account?.username ?? account?.name ?? account?.sub;
}
