import type { Credential } from './credential.js';

/**
 * The one formatter for `auth token` output (docs/design.md §2), shared by the
 * command and the warm-path shortcut in src/fast/token.ts so both print the
 * same bytes. Dependency-free on purpose (docs/design.md §7).
 */
export const TOKEN_FORMATS = ['raw', 'json', 'header'] as const;
export type TokenFormat = (typeof TOKEN_FORMATS)[number];

/** docs/security.md R89: said on stderr when the token is about to land on a terminal. */
export const TTY_TOKEN_WARNING = '(This token grants access to your account; do not share it or paste it into untrusted places.)';

/**
 * Stable shapes: `raw` → `<token>\n`; `header` → `Authorization: Bearer <token>\n`;
 * `json` → `{"access_token","token_type","expires_at","scope"}` with
 * `expires_at` in epoch seconds (null when the provider gave no expiry).
 * With `idToken` the ID token is printed as is, whatever the format.
 */
export function formatToken(cred: Credential, format: TokenFormat, idToken: boolean): string {
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
