import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { errorLine, makeHome, runCli } from './support/cli.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// A custom OAuth 2 profile (endpoints given, no discovery) that asks for the openid scope: without
// a JWKS URI the ID token could not be checked, so `auth login` says so before the browser opens
// (exit 2, nothing stored); with endpoints.jwks the sign-in validates the ID token and works.
describe('custom OAuth 2 endpoints with the openid scope', () => {
  let sandbox: Sandbox;
  const homes: Array<() => void> = [];
  const profile = (home: string, jwks: boolean) => writeFileSync(join(home, 'config.yaml'), [
    'profiles:',
    '  default:',
    '    provider: oauth2',
    `    issuer: ${sandbox.issuer}`,
    '    clientId: auth-cli',
    '    scopes: [openid, email, offline_access]',
    '    endpoints:',
    `      authorization: ${sandbox.issuer}/auth`,
    `      token: ${sandbox.issuer}/token`,
    ...(jwks ? [`      jwks: ${sandbox.issuer}/jwks`] : []),
    '',
  ].join('\n'), { mode: 0o600 });
  const fresh = () => {
    const h = makeHome('auth-oauth2-openid-');
    homes.push(h.cleanup);
    return h.home;
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
  });
  afterAll(async () => {
    await sandbox?.close();
    for (const c of homes) c();
  });

  it('no JWKS URI → exit 2 before any browser, naming endpoints.jwks; nothing stored', async () => {
    const home = fresh();
    profile(home, false);
    const res = await runCli(['login'], { home });
    expect(res.code).toBe(2);
    expect(errorLine(res.stderr)).toMatch(/error: Profile default asks for the openid scope, but the provider's endpoints in the profile name no JWKS URI/);
    expect(res.stderr).toContain('endpoints.jwks');
    expect(res.stderr).not.toContain('as.jwks_uri');
    expect(res.stderr).not.toContain('Open this URL');
    const token = await runCli(['token'], { home });
    expect(token.code).toBe(4);
  });

  it('with endpoints.jwks → the sign-in checks the ID token and succeeds; --id-token prints it', async () => {
    const home = fresh();
    profile(home, true);
    const res = await runCli(['login'], { home });
    expect(res.code, res.stderr).toBe(0);
    const id = await runCli(['token', '--id-token'], { home });
    expect(id.code, id.stderr).toBe(0);
    expect(id.stdout.split('.')).toHaveLength(3);
  });
});
