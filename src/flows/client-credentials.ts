import { createPrivateKey, type KeyObject, type webcrypto } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import * as client from 'openid-client';
import type { ResolvedProfile } from '../config/resolve.js';
import type { ServerDescription } from '../providers/resolve.js';
import type { Deps } from '../deps.js';
import { authCommand, AuthError } from '../errors.js';
import type { Credential } from '../domain/credential.js';
import { sanitize } from '../ui/text.js';
import { fromProtocolError } from './protocol-errors.js';
import { connectServer } from './server.js';
import { credentialFromTokens } from './tokens.js';

/**
 * Service accounts: the client_credentials grant (RFC 6749 §4.4). The one path
 * for both `auth login --client-credentials` and re-issuing a due token in
 * `auth token` / `auth refresh` (there is no refresh token; the grant is simply
 * run again). The client authenticates with a secret read from an environment
 * variable, or with `private_key_jwt` (RFC 7523 §2.2) signed by a key file named
 * in the profile.
 */
export interface ServiceAccount {
  issuer: string;
  clientId: string;
  /** How to reach the provider (providers/resolve.ts describeServer). */
  server: ServerDescription;
  clientSecret?: string;
  /** PEM (PKCS#8, PKCS#1 or SEC1) or JWK file; wins over clientSecret. */
  privateKeyFile?: string;
  /** Empty: send no scope and let the provider grant the client's default. */
  scopes: string[];
  resources: string[];
}

export async function issueServiceCredential(account: ServiceAccount, deps: Deps, previous?: Credential): Promise<Credential> {
  const clientAuth = account.privateKeyFile ? await privateKeyJwtAuth(account.privateKeyFile, deps) : undefined;
  if (!clientAuth && !account.clientSecret) {
    throw new AuthError('AUTH_USAGE', 'A service account needs a client secret or a private key to authenticate.', {
      hint: 'Pass --client-secret-env <VAR> naming a variable that holds the secret, or set privateKeyFile in the profile.',
    });
  }
  const config = await connectServer({
    issuer: account.issuer,
    clientId: account.clientId,
    server: account.server,
    ...(clientAuth ? { clientAuth } : { clientSecret: account.clientSecret! }),
  }, deps);
  const params: Record<string, string> = {};
  if (account.scopes.length) params.scope = account.scopes.join(' ');
  // openid-client sends one value per key; more than one resource is left to the provider's default.
  if (account.resources.length === 1) params.resource = account.resources[0]!;
  const now = deps.clock.now();
  let tokens;
  try {
    tokens = await client.clientCredentialsGrant(config, params);
  } catch (e) {
    const action = previous ? 'Re-issuing the service account token' : 'The client credentials grant';
    // A rejected client is a 401 with a WWW-Authenticate challenge (RFC 6749 §5.2); name its error code.
    const challenge = e instanceof client.WWWAuthenticateChallengeError ? e.cause[0]?.parameters : undefined;
    if (challenge?.error) {
      const desc = challenge.error_description ? `: ${sanitize(challenge.error_description)}` : '';
      throw new AuthError('AUTH_PROVIDER_ERROR', `${action} failed: the provider answered ${sanitize(challenge.error, 80)}${desc}.`, {
        hint: challenge.error === 'invalid_client' ? 'Check the client id and the secret (or private key) the profile uses.' : undefined,
      } as { hint?: string });
    }
    throw fromProtocolError(e, action);
  }
  const cred = credentialFromTokens(tokens, {
    kind: 'client_credentials',
    issuer: account.issuer,
    clientId: account.clientId,
    now,
    requestedScopes: account.scopes,
    resources: account.resources,
    ...(previous ? { previous } : {}),
  });
  // No ID token: the account is the client itself.
  cred.account = { sub: account.clientId };
  return cred;
}

/**
 * Re-runs the grant for a stored service-account credential (called from the one
 * refresh path, under its lock). The secret comes from the caller (the profile's
 * clientSecretEnv); a private key file is looked up in the profile.
 */
export async function reissueServiceCredential(cred: Credential, resolved: Pick<ResolvedProfile, 'name' | 'privateKeyFile' | 'clientId' | 'clientSecretEnv'>, server: ServerDescription, clientSecret: string | undefined, deps: Deps): Promise<Credential> {
  const account: ServiceAccount = {
    issuer: cred.issuer,
    clientId: cred.clientId,
    server,
    scopes: cred.scope.split(' ').filter(Boolean),
    resources: cred.resources ?? [],
  };
  if (resolved.privateKeyFile && resolved.clientId === cred.clientId) account.privateKeyFile = resolved.privateKeyFile;
  if (clientSecret) account.clientSecret = clientSecret;
  if (!account.privateKeyFile && !account.clientSecret) {
    const profile = resolved.name;
    throw new AuthError('AUTH_NOT_LOGGED_IN', `The service account token for profile ${profile} is due, but no client secret or private key is available to get a new one.`, {
      hint: resolved.clientSecretEnv
        ? `Export ${resolved.clientSecretEnv} with the client secret.`
        : `Run \`${authCommand('login', profile)} --client-credentials --client-secret-env <VAR>\`.`,
    });
  }
  return issueServiceCredential(account, deps, cred);
}

/** private_key_jwt client authentication from a key file (jose imports, openid-client signs). */
async function privateKeyJwtAuth(file: string, deps: Deps): Promise<client.ClientAuth> {
  const { key, kid } = await loadPrivateKey(file, deps);
  // openid-client's types name the DOM CryptoKey; Node's webcrypto key is the same object.
  return client.PrivateKeyJwt((kid ? { key, kid } : key) as Parameters<typeof client.PrivateKeyJwt>[0]);
}

async function loadPrivateKey(file: string, deps: Deps): Promise<{ key: webcrypto.CryptoKey; kid?: string; alg: string }> {
  const path = resolveKeyPath(file, deps);
  let text: string;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
    // Like ssh: a private key others can read is worth a warning (POSIX modes only).
    if (deps.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      deps.log.warn(`The private key file ${path} can be read by other users; run \`chmod 600 ${path}\`.`);
    }
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new AuthError('AUTH_USAGE', `Cannot read the private key file ${path} (${code}).`, {
      hint: 'Set privateKeyFile in the profile to a PEM (PKCS#8) or JWK file holding the service account\'s private key.',
    });
  }
  const { importJWK, importPKCS8 } = await import('jose');
  const bad = (why: string) => new AuthError('AUTH_USAGE', `The private key file ${path} cannot be used: ${why}.`, {
    hint: 'Use an RSA, EC (P-256/P-384/P-521) or Ed25519 private key as PEM (PKCS#8) or as a JWK.',
  });
  try {
    if (text.trimStart().startsWith('{')) {
      const jwk = JSON.parse(text) as Record<string, unknown>;
      if (typeof jwk.d !== 'string') throw bad('the JWK holds no private key ("d")');
      const alg = typeof jwk.alg === 'string' ? jwk.alg : algFromKey(createPrivateKey({ key: jwk as never, format: 'jwk' }));
      if (!alg) throw bad('its key type is not supported');
      const key: unknown = await importJWK(jwk as never, alg);
      if (key instanceof Uint8Array) throw bad('it is a symmetric key');
      return { key: key as webcrypto.CryptoKey, alg, ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}) };
    }
    const keyObject = createPrivateKey(text);
    const alg = algFromKey(keyObject);
    if (!alg) throw bad(`its key type (${keyObject.asymmetricKeyType}) is not supported`);
    const pkcs8 = keyObject.export({ format: 'pem', type: 'pkcs8' }).toString();
    return { key: (await importPKCS8(pkcs8, alg)) as webcrypto.CryptoKey, alg };
  } catch (e) {
    if (e instanceof AuthError) throw e;
    throw bad('it is not a valid PEM or JWK private key');
  }
}

function algFromKey(key: KeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      return ({ prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' } as Record<string, string>)[key.asymmetricKeyDetails?.namedCurve ?? ''];
    default:
      return undefined;
  }
}

/** `~/` is the home directory; a relative path is relative to the config directory. */
function resolveKeyPath(file: string, deps: Deps): string {
  if (file.startsWith('~/') && deps.env.HOME) return join(deps.env.HOME, file.slice(2));
  return isAbsolute(file) ? file : join(deps.paths.configDir, file);
}
