import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Secret } from 'otpauth';
import { makeHome, runCli } from './support/cli.js';
import { grepTree, listFiles, totpAt } from './mfa-support.js';

// `auth mfa add|code|list|remove`: the terminal authenticator, driven as a user
// would, with the test-only AUTH_TEST_NOW_MS clock placing `code` at exact times.
const { home, cleanup } = makeHome('auth-mfa-authn-');
afterAll(cleanup);

const at = (ms: number) => ({ home, env: { AUTH_TEST_NOW_MS: String(ms) } });

// RFC 6238 Appendix B: seeds are the ASCII digits repeated to the hash size; 8 digits, 30 s, T0 = 0.
const SEEDS = {
  SHA1: Secret.fromLatin1('12345678901234567890').base32,
  SHA256: Secret.fromLatin1('12345678901234567890123456789012').base32,
  SHA512: Secret.fromLatin1('1234567890123456789012345678901234567890123456789012345678901234').base32,
} as const;
const VECTORS: [number, string, string, string][] = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];
const ALGS = ['SHA1', 'SHA256', 'SHA512'] as const;

describe('terminal authenticator', () => {
  const stderrs: string[] = [];
  const cli = async (args: string[], opts: Parameters<typeof runCli>[1]) => {
    const res = await runCli(args, opts);
    stderrs.push(res.stderr);
    return res;
  };

  it('adds entries from --secret with algorithm and digits; the secret goes to a 0600 file, never the index', async () => {
    for (const alg of ALGS) {
      const res = await cli(['mfa', 'add', `rfc-${alg.toLowerCase()}`, '--secret', '-', '--algorithm', alg, '--digits', '8'], { home, input: `${SEEDS[alg]}\n` });
      expect(res.code).toBe(0);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain(`Added "rfc-${alg.toLowerCase()}"`);
    }
    const index = readFileSync(join(home, 'authenticator', 'index.json'), 'utf8');
    for (const seed of Object.values(SEEDS)) expect(index).not.toContain(seed);
    const secrets = listFiles(join(home, 'secrets', 'authenticator'));
    expect(secrets).toHaveLength(3);
    // POSIX modes (Windows relies on the per-user profile directory's ACL).
    if (process.platform !== 'win32') expect(listFiles(home).every((f) => f.mode === 0o600)).toBe(true);
  });

  it('RFC 6238 Appendix B vectors: `auth mfa code` prints exactly the code at each time (SHA-1/256/512, 8 digits; R92)', async () => {
    for (const [seconds, ...expected] of VECTORS) {
      const ms = seconds * 1000;
      const results = await Promise.all(ALGS.map((alg) => cli(['mfa', 'code', `rfc-${alg.toLowerCase()}`], at(ms))));
      results.forEach((res, i) => {
        const alg = ALGS[i]!;
        expect(res.code).toBe(0);
        // The RFC's table, and an independent computation with otpauth, agree with the CLI.
        expect(res.stdout).toBe(`${expected[i]}\n`);
        expect(res.stdout).toBe(`${totpAt(SEEDS[alg], ms, { algorithm: alg, digits: 8 })}\n`);
        expect(res.stderr).toBe(`${30 - (seconds % 30)} s left\n`);
      });
    }
  });

  it('honours the algorithm, digits and period of an otpauth:// URI', async () => {
    const uri = `otpauth://totp/Example:alice%40example.com?secret=${SEEDS.SHA256}&issuer=Example&algorithm=SHA256&digits=7&period=60`;
    const add = await cli(['mfa', 'add', 'example', '--uri', uri], { home });
    expect(add.code).toBe(0);
    expect(add.stderr).toContain('Added "example" (Example: alice@example.com): SHA256, 7 digits, every 60 s');
    // A secret on argv is allowed by DESIGN but the user is told it is visible to others.
    expect(add.stderr).toContain('other local users');
    const t = 1_700_000_000_000; // 20 s into a 60 s step (and 20 s into a 30 s step)
    const first = await cli(['mfa', 'code', 'example'], at(t));
    const later = await cli(['mfa', 'code', 'example'], at(t + 35_000)); // same 60 s step, next 30 s step
    expect(first.stdout).toBe(`${totpAt(SEEDS.SHA256, t, { algorithm: 'SHA256', digits: 7, period: 60 })}\n`);
    expect(first.stdout).toMatch(/^\d{7}\n$/);
    expect(later.stdout).toBe(first.stdout);
    expect(first.stderr).toBe('40 s left\n');
    // The RFC vectors through URIs too (8 digits, 30 s).
    for (const alg of ALGS) {
      const name = `uri-${alg.toLowerCase()}`;
      const res = await cli(['mfa', 'add', name, '-'], { home, input: `otpauth://totp/RFC:${alg}?secret=${SEEDS[alg]}&algorithm=${alg}&digits=8&period=30\n` });
      expect(res.code).toBe(0);
      const [seconds, ...expected] = VECTORS[1]!;
      expect((await cli(['mfa', 'code', name], at(seconds * 1000))).stdout).toBe(`${expected[ALGS.indexOf(alg)]}\n`);
    }
  });

  it('lists names and issuers, never secrets; --json has the entries', async () => {
    const res = await cli(['mfa', 'list'], { home });
    expect(res.code).toBe(0);
    const names = res.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(['rfc-sha1', 'rfc-sha256', 'rfc-sha512', 'example', 'uri-sha1', 'uri-sha256', 'uri-sha512']);
    expect(res.stdout).toContain('Example: alice@example.com');
    const json = JSON.parse((await cli(['mfa', 'list', '--json'], { home })).stdout);
    expect(json.entries[3]).toEqual({ name: 'example', issuer: 'Example', label: 'alice@example.com', algorithm: 'SHA256', digits: 7, period: 60 });
    for (const seed of Object.values(SEEDS)) expect(res.stdout + JSON.stringify(json)).not.toContain(seed);
  });

  it('malformed URIs and secrets exit 2 with the reason, and store nothing', async () => {
    const cases: [string[], string | undefined, RegExp][] = [
      [['--uri', 'not a uri'], undefined, /not a URL/],
      [['--uri', 'https://example.com/?secret=JBSWY3DPEHPK3PXP'], undefined, /must start with otpauth:\/\//],
      [['--uri', 'otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=1'], undefined, /HOTP/],
      [['--uri', 'otpauth://totp/x?issuer=X'], undefined, /no secret/],
      [['--uri', 'otpauth://totp/x?secret=JBSWY3DP!HPK3PXP'], undefined, /not valid base32/],
      [['--uri', 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5'], undefined, /Unsupported algorithm "MD5"/],
      [['--uri', 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=abc'], undefined, /digits parameter is not a number/],
      [['--uri', 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0'], undefined, /period must be/],
      [['--secret', '-'], 'abc!def\n', /not valid base32/],
      [['--secret', '-'], 'JBSWY3D\n', /too short|impossible/],
      [['--secret', '-'], '\n', /empty/],
      [['--secret', '-', '--digits', '11'], 'JBSWY3DPEHPK3PXP\n', /digits must be/],
      [['--secret', '-', '--algorithm', 'MD5'], 'JBSWY3DPEHPK3PXP\n', /Unsupported algorithm/],
      [[], undefined, /Nothing to add/],
      [['--uri', 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP', '--digits', '8'], undefined, /go with --secret/],
    ];
    for (const [args, input, reason] of cases) {
      const res = await cli(['mfa', 'add', 'broken', ...args], { home, ...(input !== undefined ? { input } : {}) });
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(2);
      expect(res.stderr).toMatch(reason);
      expect(res.stdout).toBe('');
    }
    expect(existsSync(join(home, 'secrets', 'authenticator', 'broken'))).toBe(false);
    expect((await cli(['mfa', 'code', 'broken'], { home })).code).toBe(2);
  });

  it('refuses a duplicate name, and removes an entry with its secret', async () => {
    const dup = await cli(['mfa', 'add', 'example', '--secret', '-'], { home, input: 'JBSWY3DPEHPK3PXP\n' });
    expect(dup.code).toBe(2);
    expect(dup.stderr).toContain('already exists');
    const rm = await cli(['mfa', 'remove', 'example'], { home });
    expect(rm.code).toBe(0);
    expect(existsSync(join(home, 'secrets', 'authenticator', 'example'))).toBe(false);
    const code = await cli(['mfa', 'code', 'example'], { home });
    expect(code.code).toBe(2);
    expect(code.stderr).toContain('No authenticator entry named "example"');
    expect((await cli(['mfa', 'remove', 'example'], { home })).code).toBe(2);
  });

  it('never prints a secret to stderr (R85, R87)', async () => {
    const debug = await cli(['--debug', 'mfa', 'code', 'rfc-sha1'], at(59_000));
    expect(debug.code).toBe(0);
    const all = stderrs.join('\n');
    for (const seed of [...Object.values(SEEDS), 'JBSWY3DPEHPK3PXP']) expect(all).not.toContain(seed);
    // Codes go to stdout only.
    expect(all).not.toContain('94287082');
    expect(grepTree(home, SEEDS.SHA1).every((p) => p.includes(`${join('secrets', 'authenticator')}`))).toBe(true);
  });
});
