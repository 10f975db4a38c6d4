import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, runCli } from './support/cli.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// Service accounts: `auth login --client-credentials` runs the client_credentials
// grant against the real sandbox provider (client secret from an env var, or
// private_key_jwt signed with a key file named in the profile); `auth token`
// runs the grant again when the token is due — there is no refresh token.

const TTL_S = 600;
const CC = 'client_credentials';

describe('service accounts (client_credentials)', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-cc-');
  const keyDir = makeHome('auth-cc-keys-');
  let ecPublic: Record<string, unknown>;
  let rsaPublic: Record<string, unknown>;
  const pemFile = join(keyDir.home, 'svc.pem');
  const jwkFile = join(keyDir.home, 'svc.jwk');

  beforeAll(async () => {
    // An EC key as PKCS#8 PEM and an RSA key as a JWK with a kid; the provider gets the public halves.
    const ec = await generateKeyPair('ES256', { extractable: true });
    writeFileSync(pemFile, await exportPKCS8(ec.privateKey), { mode: 0o600 });
    ecPublic = { ...(await exportJWK(ec.publicKey)), alg: 'ES256', use: 'sig' };
    const rsa = await generateKeyPair('RS256', { extractable: true });
    writeFileSync(jwkFile, JSON.stringify({ ...(await exportJWK(rsa.privateKey)), kid: 'svc-rsa-1', alg: 'RS256' }), { mode: 0o600 });
    rsaPublic = { ...(await exportJWK(rsa.publicKey)), kid: 'svc-rsa-1', alg: 'RS256', use: 'sig' };
    const jwtClient = (client_id: string, key: Record<string, unknown>) => ({
      client_id,
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [key] },
      grant_types: [CC],
      response_types: [],
      redirect_uris: [],
    });
    sandbox = await startSandbox({ accessTokenTTL: TTL_S, clients: [jwtClient('svc-ec', ecPublic), jwtClient('svc-rsa', rsaPublic)] });
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
    keyDir.cleanup();
  });

  const env = () => ({ SVC_SECRET: sandbox.service.clientSecret });
  const stored = (profile: string) => JSON.parse(readFileSync(join(home, 'credentials', `${profile}.json`), 'utf8'));
  /** Moves the stored token's expiry to 30 s from now: inside the 60 s skew margin (R36), so it is due. */
  const makeDue = (profile: string) => {
    const file = join(home, 'credentials', `${profile}.json`);
    writeFileSync(file, JSON.stringify({ ...stored(profile), expires_at: Math.floor(Date.now() / 1000) + 30 }), { mode: 0o600 });
  };

  it('logs in with the secret from --client-secret-env; stores a client_credentials credential, no refresh token', async () => {
    const before = sandbox.grants(CC);
    const res = await runCli(['login', '-p', 'svc', '--client-credentials', '--issuer', sandbox.issuer, '--client-id', 'auth-service', '--client-secret-env', 'SVC_SECRET'], { home, env: env() });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain(`✓ Logged in to ${sandbox.issuer} as auth-service (profile svc)`);
    expect(sandbox.grants(CC)).toBe(before + 1);
    const cred = stored('svc');
    expect(cred).toMatchObject({ kind: CC, client_id: 'auth-service', issuer: sandbox.issuer });
    expect(cred.refresh_token).toBeUndefined();
    expect(cred.expires_at - cred.obtained_at).toBe(TTL_S);
    // The provider knows the token, and it belongs to the service client.
    const info = await sandbox.introspect(cred.access_token);
    expect(info).toMatchObject({ active: true, client_id: 'auth-service' });
    // The secret is named in the profile, never stored, never printed.
    const config = readFileSync(join(home, 'config.yaml'), 'utf8');
    expect(config).toContain('clientSecretEnv: SVC_SECRET');
    for (const text of [config, JSON.stringify(cred), res.stderr]) expect(text).not.toContain(sandbox.service.clientSecret);

    const status = await runCli(['status', '-p', 'svc', '--json'], { home, env: env() });
    expect(JSON.parse(status.stdout).profiles[0]).toMatchObject({ name: 'svc', loggedIn: true, refreshable: true, account: 'auth-service' });
  });

  it('`auth token` re-runs the grant when the token is due (no refresh token involved), then serves the new one', async () => {
    const old = stored('svc').access_token;
    makeDue('svc');
    const before = sandbox.grants(CC);
    const res = await runCli(['token', '-p', 'svc'], { home, env: env() });
    expect(res.code, res.stderr).toBe(0);
    const fresh = res.stdout.trim();
    expect(fresh).not.toBe(old);
    expect(res.stdout).toBe(`${fresh}\n`);
    expect(sandbox.grants(CC)).toBe(before + 1);
    expect(sandbox.grants('refresh_token')).toBe(0);
    expect(stored('svc').access_token).toBe(fresh);
    expect(await sandbox.introspect(fresh)).toMatchObject({ active: true, client_id: 'auth-service' });
    // Still fresh: served from the store, no new grant.
    const again = await runCli(['token', '-p', 'svc'], { home, env: env() });
    expect(again.stdout).toBe(`${fresh}\n`);
    expect(sandbox.grants(CC)).toBe(before + 1);
  });

  it('`auth refresh --force` also runs the grant again', async () => {
    const before = sandbox.grants(CC);
    const old = stored('svc').access_token;
    const res = await runCli(['refresh', '-p', 'svc', '--force'], { home, env: env() });
    expect(res.code, res.stderr).toBe(0);
    expect(sandbox.grants(CC)).toBe(before + 1);
    expect(stored('svc').access_token).not.toBe(old);
  });

  it('--scope and --resource are sent: the provider issues a JWT for that API audience', async () => {
    const res = await runCli(['login', '-p', 'api', '--client-credentials', '--issuer', sandbox.issuer, '--client-id', 'auth-service', '--client-secret-env', 'SVC_SECRET', '--scope', 'api:read', '--resource', 'https://api.example.com/orders'], { home, env: env() });
    expect(res.code, res.stderr).toBe(0);
    const cred = stored('api');
    expect(cred.scope).toBe('api:read');
    const claims = decodeJwt(cred.access_token);
    expect(claims.aud).toBe('https://api.example.com/orders');
    expect(claims.client_id).toBe('auth-service');
  });

  it('private_key_jwt with a PEM key file from the profile; re-issue signs with the key too', async () => {
    writeFileSync(join(home, 'config.yaml'), `${readFileSync(join(home, 'config.yaml'), 'utf8')}  ec:\n    issuer: ${sandbox.issuer}\n    clientId: svc-ec\n    privateKeyFile: ${pemFile}\n`);
    const before = sandbox.grants(CC);
    const res = await runCli(['login', '-p', 'ec', '--client-credentials'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('as svc-ec (profile ec)');
    expect(res.stderr).not.toContain('can be read by other users');
    expect(sandbox.grants(CC)).toBe(before + 1);
    expect(sandbox.events.filter((e) => e.type === 'grant.success' && e.clientId === 'svc-ec')).toHaveLength(1);
    const first = stored('ec').access_token;
    expect(JSON.stringify(stored('ec'))).not.toContain('PRIVATE');

    makeDue('ec');
    const token = await runCli(['token', '-p', 'ec'], { home });
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout.trim()).not.toBe(first);
    expect(sandbox.events.filter((e) => e.type === 'grant.success' && e.clientId === 'svc-ec')).toHaveLength(2);
  });

  it('private_key_jwt with a JWK file (kid sent); a key readable by others gets a warning', async () => {
    chmodSync(jwkFile, 0o644);
    writeFileSync(join(home, 'config.yaml'), `${readFileSync(join(home, 'config.yaml'), 'utf8')}  rsa:\n    issuer: ${sandbox.issuer}\n    clientId: svc-rsa\n    privateKeyFile: ${jwkFile}\n`);
    const res = await runCli(['login', '-p', 'rsa', '--client-credentials'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain(`The private key file ${jwkFile} can be read by other users`);
    expect(sandbox.events.some((e) => e.type === 'grant.success' && e.clientId === 'svc-rsa')).toBe(true);
  });

  it('without a secret or key → exit 2 saying what to pass; an unset secret variable is named; nothing stored', async () => {
    const { home: h, cleanup: done } = makeHome();
    try {
      const none = await runCli(['login', '--client-credentials', '--issuer', sandbox.issuer, '--client-id', 'auth-service'], { home: h });
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('needs a client secret or a private key');
      expect(none.stderr).toContain('--client-secret-env');
      const unset = await runCli(['login', '--client-credentials', '--issuer', sandbox.issuer, '--client-id', 'auth-service', '--client-secret-env', 'NOT_SET_SECRET'], { home: h });
      expect(unset.code).toBe(2);
      expect(unset.stderr).toContain('NOT_SET_SECRET is not set');
      expect(existsSync(join(h, 'credentials', 'default.json'))).toBe(false);
    } finally {
      done();
    }
  });

  it('a wrong secret → exit 1 with the provider\'s invalid_client, the secret not echoed, nothing stored', async () => {
    const { home: h, cleanup: done } = makeHome();
    try {
      const wrong = 'wrong-secret-value-1234567890';
      const res = await runCli(['login', '--client-credentials', '--issuer', sandbox.issuer, '--client-id', 'auth-service', '--client-secret-env', 'SVC_SECRET'], { home: h, env: { SVC_SECRET: wrong } });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('The client credentials grant failed: the provider answered invalid_client');
      expect(res.stderr).not.toContain(wrong);
      expect(existsSync(join(h, 'credentials', 'default.json'))).toBe(false);
    } finally {
      done();
    }
  });
});
