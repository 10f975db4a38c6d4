import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { errorLine, makeHome, runCli } from './support/cli.js';
import { grepTree, secretFromUri, spawnOpen, STEP_MS, totpAt, URI_PATTERN, waitFor } from './mfa-support.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// MFA factors and authenticator seeds live in the same vault as credentials (store/secrets.ts,
// docs/mfa.md "Where things are kept"): under `encrypted-file` they are encrypted with the
// credential passphrase, never a plain file; one written before that (plain) still works and is
// still read; a wrong passphrase reads nothing and deletes nothing.

const PASS = 'vault test passphrase';
const ENCRYPTED = { AUTH_STORAGE: 'encrypted-file', AUTH_PASSPHRASE: PASS };
const SEED = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe('MFA and authenticator secrets under encrypted-file', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-mfa-vault-');
  const t0 = Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000;
  const at = (ms: number, extra: Record<string, string> = {}) => ({ ...ENCRYPTED, AUTH_TEST_NOW_MS: String(ms), ...extra });
  let secret = '';

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home, env: ENCRYPTED });
    expect(login.code, login.stderr).toBe(0);
    const p = spawnOpen(['mfa', 'setup'], home, at(t0));
    const [uri] = await waitFor(p.child, p.stderrText, URI_PATTERN);
    secret = secretFromUri(uri!);
    p.child.stdin!.end(`${totpAt(secret, t0)}\n`);
    const res = await p.result;
    expect(res.code, res.stderr).toBe(0);
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  it('the MFA secret is encrypted on disk: its base32 secret appears in no file', () => {
    const file = join(home, 'secrets', 'mfa', 'default');
    expect(readFileSync(file).subarray(0, 4).toString('latin1')).not.toBe('{"v"');
    expect(grepTree(home, secret)).toEqual([]);
  });

  it('unlock reads it with the passphrase; with a wrong one it fails (exit 1) and keeps the secret', async () => {
    const file = join(home, 'secrets', 'mfa', 'default');
    const before = readFileSync(file);
    const wrong = await runCli(['mfa', 'unlock'], { home, env: at(t0 + STEP_MS, { AUTH_PASSPHRASE: 'not it' }), input: `${totpAt(secret, t0 + STEP_MS)}\n` });
    expect(wrong.code).toBe(1);
    expect(errorLine(wrong.stderr)).toMatch(/passphrase is wrong/);
    expect(readFileSync(file)).toEqual(before);
    const ok = await runCli(['mfa', 'unlock'], { home, env: at(t0 + 2 * STEP_MS), input: `${totpAt(secret, t0 + 2 * STEP_MS)}\n` });
    expect(ok.code, ok.stderr).toBe(0);
    expect((await runCli(['token'], { home, env: at(t0 + 2 * STEP_MS + 1000) })).code).toBe(0);
  });

  it('an authenticator seed is encrypted too, and its code is right', async () => {
    const add = await runCli(['mfa', 'add', 'example', '--secret', '-'], { home, env: at(t0), input: `${SEED}\n` });
    expect(add.code, add.stderr).toBe(0);
    expect(grepTree(home, SEED)).toEqual([]);
    const code = await runCli(['mfa', 'code', 'example'], { home, env: at(t0) });
    expect(code.code, code.stderr).toBe(0);
    expect(code.stdout.trim()).toBe(totpAt(SEED, t0));
  });

  it('a plain secret file written before (older version, or storage changed) still works under encrypted-file', async () => {
    const file = join(home, 'secrets', 'authenticator', 'legacy');
    const add = await runCli(['mfa', 'add', 'legacy', '--secret', '-'], { home, env: { ...at(t0), AUTH_STORAGE: 'file' }, input: `${SEED}\n` });
    expect(add.code, add.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain(SEED);
    const code = await runCli(['mfa', 'code', 'legacy'], { home, env: at(t0) });
    expect(code.code, code.stderr).toBe(0);
    expect(code.stdout.trim()).toBe(totpAt(SEED, t0));
  });
});
