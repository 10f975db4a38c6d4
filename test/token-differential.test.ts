import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, makeHome, ROOT, runCli, type CliResult } from './support/cli.js';
import { keyringRequirement, startPrivateKeyring, type PrivateKeyring } from './support/keyring.js';
import { secretFromUri, spawnOpen, STEP_MS, totpAt, URI_PATTERN, waitFor } from './mfa-support.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
type Env = Record<string, string | undefined>;

// The one token rule (src/domain/token-plan.ts) run both ways: every `auth token` scenario goes
// through bin/auth.js — whose fast path answers what it can and defers the rest — and through
// the full CLI alone (dist/main.cjs, as test/support/slow-cli.cjs loads it). Both must print the
// same bytes and exit the same way. A preloaded probe (test/support/fast-probe.cjs) records which
// path answered, so a scenario the fast path should serve cannot silently pass through the full CLI.
// docs/architecture.md "How `auth token` flows"; docs/design.md §2, §7; docs/security.md R81.

const PROBE = join(ROOT, 'test', 'support', 'fast-probe.cjs');
const SLOW = join(ROOT, 'test', 'support', 'slow-cli.cjs');

/** bin/auth.js, with the path that answered ('fast' or 'slow'). */
async function viaBin(args: string[], home: string, env: Env): Promise<CliResult & { path: string }> {
  const out = join(home, `probe-${process.hrtime.bigint()}`);
  const res = await runCli(args, { home, env: { ...env, NODE_OPTIONS: `--require ${PROBE}`, AUTH_PROBE_OUT: out } });
  const path = existsSync(out) ? readFileSync(out, 'utf8').trim() : 'none';
  rmSync(out, { force: true });
  return { ...res, path };
}

/** The full CLI alone, with the same probe: it must say 'slow'. */
function viaFull(args: string[], home: string, env: Env): Promise<CliResult & { path: string }> {
  const out = join(home, `probe-${process.hrtime.bigint()}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SLOW, ...args], { env: baseEnv(home, { ...env, NODE_OPTIONS: `--require ${PROBE}`, AUTH_PROBE_OUT: out }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code, signal) => {
      const path = existsSync(out) ? readFileSync(out, 'utf8').trim() : 'none';
      rmSync(out, { force: true });
      resolve({ code, signal, stdout, stderr, path });
    });
  });
}

/** Runs both ways; checks they agree and that each went the path expected. */
async function differential(args: string[], home: string, env: Env, expectPath: 'fast' | 'slow'): Promise<CliResult> {
  const bin = await viaBin(args, home, env);
  const full = await viaFull(args, home, env);
  expect(full.path, 'the full CLI ran').toBe('slow');
  expect(bin.path, `bin/auth.js ${args.join(' ')}: which path answered`).toBe(expectPath);
  expect({ code: bin.code, stdout: bin.stdout, stderr: bin.stderr }).toEqual({ code: full.code, stdout: full.stdout, stderr: full.stderr });
  return bin;
}

const keyring = keyringRequirement();
const FORMATS: string[][] = [['token'], ['token', '--format', 'raw'], ['token', '--format', 'json'], ['token', '--format=header'], ['token', '--id-token'], ['token', '--id-token', '--format', 'json'], ['token', '--format', 'env'], ['token', '--format', 'exec-credential'], ['token', '--id-token', '--format=exec-credential'], ['token', '--min-ttl', '0', '--no-refresh']];
const LATER = 2 * 86_400_000; // past every token's expiry

interface StoreCase {
  name: string;
  /** Whether the fast path serves a valid token from this store. */
  fast: boolean;
  skip: boolean;
  env(kr: PrivateKeyring | undefined): Env;
}

const STORES: StoreCase[] = [
  { name: 'file', fast: true, skip: false, env: () => ({ AUTH_STORAGE: 'file' }) },
  // scrypt and a passphrase are the full CLI's: the fast path always defers.
  { name: 'encrypted-file', fast: false, skip: false, env: () => ({ AUTH_STORAGE: 'encrypted-file', AUTH_PASSPHRASE: 'differential test passphrase' }) },
  { name: 'keychain', fast: true, skip: keyring.skip, env: (kr) => ({ AUTH_STORAGE: undefined, ...kr!.env }) },
];

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ accessTokenTTL: 3600 });
});
afterAll(async () => {
  await sandbox?.close();
});

for (const store of STORES) {
  describe.skipIf(store.skip)(`auth token both ways: ${store.name} store`, () => {
    const { home, cleanup } = makeHome(`auth-diff-${store.name}-`);
    let kr: PrivateKeyring | undefined;
    let env: Env = {};
    const valid = store.fast ? 'fast' : 'slow';

    beforeAll(async () => {
      if (store.name === 'keychain') {
        keyring.assertAvailable();
        kr = await startPrivateKeyring();
      }
      env = store.env(kr);
      const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home, env });
      expect(login.code, login.stderr).toBe(0);
      // The first run after a config change is the full CLI's: it writes the config index.
      expect((await runCli(['token'], { home, env })).code).toBe(0);
    });
    afterAll(async () => {
      await kr?.stop();
      cleanup();
    });

    for (const args of FORMATS) {
      it(`valid token: \`auth ${args.join(' ')}\``, async () => {
        const res = await differential(args, home, env, valid);
        expect(res.code).toBe(0);
        expect(res.stdout).toMatch(/^\S[^\n]*\n$/);
        expect(res.stderr).toBe('');
      });
    }

    it('the test clock does not switch the fast path off: it honours it', async () => {
      const res = await differential(['token'], home, { ...env, AUTH_TEST_NOW_MS: String(Date.now()) }, valid);
      expect(res.code).toBe(0);
    });

    it('expired (test clock past expiry) with --no-refresh: exit 4 both ways, nothing on stdout', async () => {
      const at = { ...env, AUTH_TEST_NOW_MS: String(Date.now() + LATER) };
      for (const args of [['token', '--no-refresh'], ['token', '--no-refresh', '--format', 'json'], ['token', '--id-token', '--no-refresh']]) {
        const res = await differential(args, home, at, 'slow');
        expect(res.code).toBe(4);
        expect(res.stdout).toBe('');
        expect(res.stderr).toMatch(/^error: .*expired/m);
      }
    });

    it('due within --min-ttl: bin/auth.js defers and refreshes once; then both ways print the new token', async () => {
      const before = await viaFull(['token'], home, env);
      const grants = sandbox.grants('refresh_token');
      const refreshed = await viaBin(['token', '--min-ttl', '7200'], home, env);
      expect(refreshed.path).toBe('slow');
      expect(refreshed.code, refreshed.stderr).toBe(0);
      expect(sandbox.grants('refresh_token') - grants).toBe(1);
      expect(refreshed.stdout).not.toBe(before.stdout);
      const res = await differential(['token'], home, env, valid);
      expect(res.stdout).toBe(refreshed.stdout);
      expect((await sandbox.userinfo(res.stdout.trim())).status).toBe(200);
    });

    it('not logged in (another profile): exit 4 both ways', async () => {
      const res = await differential(['token', '-p', 'nobody'], home, env, 'slow');
      expect(res.code).toBe(4);
      expect(res.stdout).toBe('');
    });

    if (store.name !== 'encrypted-file') {
      describe('MFA', () => {
        // On a step boundary + 5 s near real time: the provider's tokens are real.
        const t0 = Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000;
        const at = (ms: number) => ({ ...env, AUTH_TEST_NOW_MS: String(ms) });
        let secret = '';

        beforeAll(async () => {
          const p = spawnOpen(['mfa', 'setup'], home, at(t0));
          const [uri] = await waitFor(p.child, p.stderrText, URI_PATTERN);
          secret = secretFromUri(uri!);
          p.child.stdin!.end(`${totpAt(secret, t0)}\n`);
          const res = await p.result;
          expect(res.code, res.stderr).toBe(0);
          expect((await runCli(['mfa', 'lock'], { home, env: at(t0) })).code).toBe(0);
        });

        it('locked: exit 4 both ways, nothing on stdout, in every format', async () => {
          for (const args of [['token'], ['token', '--format', 'json'], ['token', '--id-token']]) {
            const res = await differential(args, home, at(t0 + 1_000), 'slow');
            expect(res.code).toBe(4);
            expect(res.stdout).toBe('');
            expect(res.stderr).toMatch(/^error: .*MFA/m);
          }
        });

        it('unlocked: served inside the window (by the fast path where it serves the store), locked again after it', async () => {
          const unlock = await runCli(['mfa', 'unlock'], { home, env: at(t0 + STEP_MS), input: `${totpAt(secret, t0 + STEP_MS)}\n` });
          expect(unlock.code, unlock.stderr).toBe(0);
          for (const args of FORMATS) {
            const res = await differential(args, home, at(t0 + STEP_MS + 60_000), valid);
            expect(res.code).toBe(0);
            expect(res.stdout).toMatch(/^\S[^\n]*\n$/);
          }
          const after = await differential(['token'], home, at(t0 + STEP_MS + 16 * 60_000), 'slow');
          expect(after.code).toBe(4);
          expect(after.stdout).toBe('');
        });
      });
    }

    if (store.name === 'keychain') {
      it('a newer copy in the fallback file beside the keychain entry wins, both ways', async () => {
        const entry = kr!.lookup('default');
        expect(entry).toBeDefined();
        const stored = JSON.parse(entry!);
        const newer = { ...stored, access_token: `${stored.access_token}-newer-copy` };
        const file = join(home, 'credentials', 'default.json');
        writeFileSync(file, JSON.stringify(newer), { mode: 0o600 });
        const bin = await viaBin(['token'], home, env);
        expect(bin.path).toBe('slow');
        expect(bin.code, bin.stderr).toBe(0);
        expect(bin.stdout).toBe(`${newer.access_token}\n`);
        // The full CLI moved it into the keychain; from then on the fast path serves it again.
        expect(existsSync(file)).toBe(false);
        expect(JSON.parse(kr!.lookup('default')!).access_token).toBe(newer.access_token);
        const res = await differential(['token'], home, env, 'fast');
        expect(res.stdout).toBe(`${newer.access_token}\n`);
        // And the same state set up again, asked the other way first.
        writeFileSync(file, JSON.stringify({ ...newer, access_token: `${stored.access_token}-newest` }), { mode: 0o600 });
        const full = await viaFull(['token'], home, env);
        expect(full.stdout).toBe(`${stored.access_token}-newest\n`);
        expect((await viaBin(['token'], home, env)).stdout).toBe(full.stdout);
      });
    }
  });
}
