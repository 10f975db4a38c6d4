import type { Credential } from './credential.js';

/**
 * The one formatter for `auth token` output (docs/design.md §2), shared by the
 * command and the warm-path shortcut in src/fast/token.ts so both print the
 * same bytes. Dependency-free on purpose (docs/design.md §7).
 */
export const TOKEN_FORMATS = ['raw', 'json', 'header', 'env', 'exec-credential'] as const;
export type TokenFormat = (typeof TOKEN_FORMATS)[number];

/** docs/security.md R89: said on stderr when the token is about to land on a terminal. */
export const TTY_TOKEN_WARNING = '(This token grants access to your account; do not share it or paste it into untrusted places.)';

/** The ExecCredential versions kubectl speaks (client.authentication.k8s.io). */
const EXEC_CREDENTIAL_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/**
 * The apiVersion to answer kubectl with: the one in KUBERNETES_EXEC_INFO (kubectl sets it to
 * the version the kubeconfig's `exec.apiVersion` names), else v1.
 */
function execCredentialVersion(execInfo: string | undefined): string {
  try {
    const v = (JSON.parse(execInfo ?? '') as { apiVersion?: unknown }).apiVersion;
    if (typeof v === 'string' && EXEC_CREDENTIAL_VERSIONS.includes(v)) return v;
  } catch {
    // unset or not JSON: the default
  }
  return EXEC_CREDENTIAL_VERSIONS[0]!;
}

/** RFC 3339 UTC without fractional seconds, as Kubernetes writes times. */
function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Stable shapes: `raw` → `<token>\n`; `header` → `Authorization: Bearer <token>\n`;
 * `json` → `{"access_token","token_type","expires_at","scope"}` with
 * `expires_at` in epoch seconds (null when the provider gave no expiry);
 * `env` → `AUTH_TOKEN=<token>\n`; `exec-credential` → a Kubernetes ExecCredential
 * `{"apiVersion","kind":"ExecCredential","status":{"token","expirationTimestamp"}}`
 * (no expirationTimestamp when the expiry is unknown: kubectl then asks every time).
 * With `idToken`, `env` and `exec-credential` carry the ID token (and its expiry, for the
 * Kubernetes OIDC authenticator); the other formats print the ID token as is.
 */
export function formatToken(cred: Credential, format: TokenFormat, idToken: boolean, kubernetesExecInfo?: string): string {
  const token = idToken ? cred.idToken : cred.accessToken;
  switch (format) {
    case 'env':
      return `AUTH_TOKEN=${token}\n`;
    case 'exec-credential': {
      const expiresAt = idToken ? cred.idTokenExpiresAt : cred.expiresAt;
      const status = { token, ...(expiresAt === undefined ? {} : { expirationTimestamp: rfc3339(expiresAt) }) };
      return `${JSON.stringify({ apiVersion: execCredentialVersion(kubernetesExecInfo), kind: 'ExecCredential', status })}\n`;
    }
    default:
      break;
  }
  if (idToken) return `${cred.idToken}\n`;
  switch (format) {
    case 'raw':
      return `${cred.accessToken}\n`;
    case 'header':
      return `Authorization: Bearer ${cred.accessToken}\n`;
    case 'json':
      return `${JSON.stringify({
        access_token: cred.accessToken,
        token_type: cred.tokenType,
        expires_at: cred.expiresAt === undefined ? null : Math.floor(cred.expiresAt / 1000),
        scope: cred.scope,
      })}\n`;
  }
}
