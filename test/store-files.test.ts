import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, BIN, makeHome, runCli, type CliResult, filesContaining } from './support/cli.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// The file-based stores and their hardening, through the built CLI against the
// sandbox provider: encrypted-file (docs/design.md §4), the plain file store's modes,
// ownership and symlink rules (docs/security.md R74–R76), and the keychain fallback
// when there is no Secret Service — none of this needs a keyring installed.


/** The CLI under a given umask (docs/security.md R74): sh sets it, then execs node. */
function runWithUmask(umask: string, args: string[], home: string, extra: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `umask ${umask} && exec "$@"`, 'sh', process.execPath, BIN, ...args], { env: baseEnv(home, extra) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end();
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ accessTokenTTL: 3600 });
});
afterAll(async () => {
  await sandbox?.close();
});

const loginArgs = (profile?: string) => ['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli', ...(profile ? ['-p', profile] : [])];

describe('encrypted-file store', () => {
  const { home, cleanup } = makeHome('auth-enc-');
  const env = { AUTH_STORAGE: 'encrypted-file', AUTH_PASSPHRASE: 'correct horse battery staple' };
  const file = join(home, 'credentials', 'default.json');
  let accessToken = '';
  afterAll(cleanup);

  it('round trip: login encrypts the credential at credentials/<profile>.json; token and status decrypt it', async () => {
    const res = await runCli(loginArgs(), { home, env });
    expect(res.code).toBe(0);
    const blob = readFileSync(file);
    // "AUTHENC" | version 1 | salt 16 | nonce 12 | ciphertext | tag 16
    expect(blob.subarray(0, 8).toString('latin1')).toBe('AUTHENC\u0001');
    expect(blob.length).toBeGreaterThan(8 + 16 + 12 + 16 + 100);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = await runCli(['token'], { home, env });
    expect(token.code).toBe(0);
    accessToken = token.stdout.trim();
    expect((await sandbox.userinfo(accessToken)).status).toBe(200);
    const status = await runCli(['status'], { home, env });
    expect(status.code).toBe(0);
    expect(status.stderr).toMatch(/Storage:\s+encrypted file .*default\.json/);
    expect(JSON.parse((await runCli(['status', '--json'], { home, env })).stdout).profiles[0].storage).toBe('encrypted-file');
  });

  it('the stored JSON never appears on disk in plain text', async () => {
    const refresh = await runCli(['refresh', '--force'], { home, env });
    expect(refresh.code).toBe(0);
    const after = (await runCli(['token'], { home, env })).stdout.trim();
    expect(after).not.toBe(accessToken);
    const idToken = (await runCli(['token', '--id-token'], { home, env })).stdout.trim();
    expect(idToken.split('.')).toHaveLength(3);
    // Our credential JSON's own fields and values (the discovery cache legitimately names grant types).
    for (const needle of [accessToken, after, idToken, '"obtained_at"', '"client_id":"auth-cli"']) {
      expect(filesContaining(home, needle)).toEqual([]);
    }
    accessToken = after;
  });

  it('a fresh salt and nonce on every write: the same credential never encrypts to the same bytes', async () => {
    const before = readFileSync(file);
    expect((await runCli(['refresh', '--force'], { home, env })).code).toBe(0);
    const after = readFileSync(file);
    expect(after.subarray(8, 36).equals(before.subarray(8, 36))).toBe(false);
    accessToken = (await runCli(['token'], { home, env })).stdout.trim();
  });

  it('wrong passphrase → exit 1 (the credential is there but cannot be read) with a clear message, nothing on stdout, the file untouched', async () => {
    const before = readFileSync(file);
    const mtime = statSync(file).mtimeMs;
    for (const args of [['token'], ['refresh', '--force'], ['status']]) {
      const res = await runCli(args, { home, env: { ...env, AUTH_PASSPHRASE: 'wrong passphrase' } });
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain(`Cannot decrypt ${file}: the passphrase is wrong, or the file was modified`);
    }
    // A login with the wrong passphrase does not re-key the file either.
    const login = await runCli(loginArgs(), { home, env: { ...env, AUTH_PASSPHRASE: 'wrong passphrase' } });
    expect(login.code).toBe(1);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(statSync(file).mtimeMs).toBe(mtime);
    expect((await runCli(['token'], { home, env })).stdout).toBe(`${accessToken}\n`);
  });

  it('no passphrase and no terminal → exit 4 naming AUTH_PASSPHRASE', async () => {
    const res = await runCli(['token'], { home, env: { AUTH_STORAGE: 'encrypted-file' } });
    expect(res.code).toBe(4);
    expect(res.stderr).toContain('needs a passphrase');
    expect(res.stderr).toContain('AUTH_PASSPHRASE');
  });

  it('tampered ciphertext, tag or header is rejected; the file is left as it was', async () => {
    const good = readFileSync(file);
    const flip = (at: number) => {
      const bad = Buffer.from(good);
      bad[at] = bad[at]! ^ 0x01;
      writeFileSync(file, bad);
      return bad;
    };
    for (const at of [good.length - 40 /* ciphertext */, good.length - 1 /* tag */, 10 /* salt */, 30 /* nonce */]) {
      const bad = flip(at);
      const res = await runCli(['token'], { home, env });
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain('the passphrase is wrong, or the file was modified');
      expect(readFileSync(file).equals(bad)).toBe(true);
    }
    // An unknown version byte: not a file this version can read (exit 1, a storage error).
    flip(7);
    const res = await runCli(['token'], { home, env });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('is not an encrypted credential file this version of auth can read');
    writeFileSync(file, good);
    expect((await runCli(['token'], { home, env })).code).toBe(0);
  });
});

describe('file store hardening (docs/security.md R74–R76)', () => {
  it('R74: under umask 000, the store dir is 0700 and every file in it 0600 (locks too)', async () => {
    const { home, cleanup } = makeHome('auth-umask-');
    try {
      expect((await runWithUmask('000', loginArgs(), home)).code).toBe(0);
      expect((await runWithUmask('000', ['refresh', '--force'], home)).code).toBe(0);
      for (const dir of ['credentials', 'locks']) {
        expect(statSync(join(home, dir)).mode & 0o777, dir).toBe(0o700);
        for (const name of readdirSync(join(home, dir))) {
          expect(statSync(join(home, dir, name)).mode & 0o777, `${dir}/${name}`).toBe(0o600);
        }
      }
      expect(readdirSync(join(home, 'credentials'))).toEqual(['default.json']);
      expect(statSync(join(home, 'config.yaml')).mode & 0o777).toBe(0o600);
    } finally {
      cleanup();
    }
  });

  describe('R75 and R76 on a logged-in profile', () => {
    const { home, cleanup } = makeHome('auth-harden-');
    const dir = join(home, 'credentials');
    const file = join(dir, 'default.json');
    beforeAll(async () => {
      expect((await runCli(loginArgs(), { home })).code).toBe(0);
    });
    afterAll(cleanup);

    it('R75: a store dir opened to others (0755) is restored to 0700, with a warning', async () => {
      chmodSync(dir, 0o755);
      const res = await runCli(['token'], { home });
      expect(res.code).toBe(0);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(res.stderr).toContain(`${dir} was accessible to other users (mode 0755); restored it to 0700.`);
      expect((await runCli(['token'], { home })).stderr).toBe('');
    });

    it('R75: a credential file opened to others (0644) is restored to 0600, with a warning', async () => {
      chmodSync(file, 0o644);
      const res = await runCli(['status'], { home });
      expect(res.code).toBe(0);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(res.stderr).toContain(`${file} was accessible to other users (mode 0644); restored it to 0600.`);
    });

    it.skipIf(process.getuid?.() !== 0)('R75: a store dir owned by another uid → exit ≠0, nothing read or written (needs root to chown)', async () => {
      const before = readFileSync(file);
      chownSync(dir, 4242, 4242);
      try {
        const token = await runCli(['token'], { home });
        expect(token.code).toBe(1);
        expect(token.stdout).toBe('');
        expect(token.stderr).toContain(`Refusing to use ${dir}: it belongs to another user (uid 4242)`);
        const refresh = await runCli(['refresh', '--force'], { home });
        expect(refresh.code).not.toBe(0);
        expect(readFileSync(file).equals(before)).toBe(true);
        expect(readdirSync(dir)).toEqual(['default.json']);
      } finally {
        chownSync(dir, 0, 0);
      }
    });

    it('R76: a symlink planted at the credential path is refused; the victim is unchanged', async () => {
      const saved = readFileSync(file);
      const victim = join(home, 'victim.txt');
      writeFileSync(victim, 'do not touch\n');
      rmSync(file);
      symlinkSync(victim, file);
      try {
        const token = await runCli(['token'], { home });
        expect(token.code).toBe(1);
        expect(token.stdout).toBe('');
        expect(token.stderr).toContain(`Refusing to read ${file}: it is a symbolic link.`);
        const login = await runCli(loginArgs(), { home });
        expect(login.code).toBe(1);
        expect(login.stderr).toMatch(/Refusing to (read|write) \S+default\.json: it is a symbolic link\./);
        expect(readFileSync(victim, 'utf8')).toBe('do not touch\n');
        expect(lstatSync(file).isSymbolicLink()).toBe(true);
      } finally {
        rmSync(file);
        writeFileSync(file, saved, { mode: 0o600 });
      }
    });

    it('R76: a symlink planted at the lock path is refused; the victim is unchanged', async () => {
      const locks = join(home, 'locks');
      mkdirSync(locks, { recursive: true, mode: 0o700 });
      const victim = join(home, 'lock-victim.txt');
      writeFileSync(victim, 'precious\n');
      const lock = join(locks, 'default.lock');
      rmSync(lock, { force: true });
      symlinkSync(victim, lock);
      try {
        const res = await runCli(['refresh', '--force'], { home });
        expect(res.code).toBe(1);
        expect(res.stderr).toContain(`Refusing to use the lock file ${lock}: it is a symbolic link.`);
        expect(readFileSync(victim, 'utf8')).toBe('precious\n');
      } finally {
        rmSync(lock);
      }
      expect((await runCli(['refresh', '--force'], { home })).code).toBe(0);
    });
  });
});

describe('no Secret Service: the file fallback (R73)', () => {
  let silent: Server;
  const connections: Socket[] = [];
  const { home, cleanup } = makeHome('auth-nokc-');
  const socket = join(home, 'silent-bus');
  beforeAll(async () => {
    // A "bus" that accepts connections and never says a word: the worst case for a keyring client.
    silent = createServer((conn) => connections.push(conn));
    await new Promise<void>((resolve) => silent.listen(socket, resolve));
  });
  afterAll(async () => {
    for (const conn of connections) conn.destroy();
    await new Promise((resolve) => silent.close(resolve));
    cleanup();
  });

  it('with D-Bus disabled, login uses the file with one warning naming it; later commands say nothing more', async () => {
    const env = { AUTH_STORAGE: undefined };
    const res = await runCli(loginArgs('nobus'), { home, env });
    expect(res.code).toBe(0);
    const warnings = res.stderr.split('\n').filter((l) => l.includes('keychain is unavailable'));
    expect(warnings).toEqual([expect.stringContaining(join(home, 'credentials', 'nobus.json'))]);
    expect(existsSync(join(home, 'credentials', 'nobus.json'))).toBe(true);
    for (const args of [['token', '-p', 'nobus'], ['refresh', '--force', '-p', 'nobus']]) {
      const again = await runCli(args, { home, env });
      expect(again.code).toBe(0);
      expect(again.stderr).not.toContain('keychain is unavailable');
    }
  });

  it('a bus that never answers: the keychain is given up within about 2 s and the command finishes (never hangs)', async () => {
    // The CLI's own 2 s bound, not the suite's raised one (test/support/cli.ts).
    const env = { AUTH_STORAGE: undefined, DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`, AUTH_TEST_KEYCHAIN_TIMEOUT_MS: undefined };
    const res = await runCli(loginArgs('silent'), { home, env, timeoutMs: 30_000 });
    expect(res.signal).toBeNull();
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('did not answer within 2 s');
    expect(res.stderr).toContain(join(home, 'credentials', 'silent.json'));
    for (const args of [['token', '-p', 'silent'], ['status', '-p', 'silent']]) {
      const t0 = Date.now();
      const again = await runCli(args, { home, env, timeoutMs: 30_000 });
      const elapsed = Date.now() - t0;
      expect(again.signal).toBeNull();
      expect(again.code).toBe(0);
      expect(elapsed).toBeGreaterThanOrEqual(1900);
    }
  });
});
