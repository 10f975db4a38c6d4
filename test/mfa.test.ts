import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Secret } from 'otpauth';
import { parse, stringify } from 'yaml';
import { startSandbox } from '../sandbox/provider.mjs';
import { makeHome, runCli, type CliResult } from './support/cli.js';
import { BACKUP_LINE, grepTree, secretFromUri, spawnOpen, STEP_MS, totpAt, totpForStep, URI_PATTERN, waitFor } from './mfa-support.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// `auth mfa` as a local second factor, end to end: the built CLI, a real
// provider for the guarded commands, and the test-only AUTH_TEST_NOW_MS clock
// (docs/design.md §9: a fake clock only for TOTP windows) to place codes, unlock
// windows and lockouts at exact times across separate processes.
describe('local second factor', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-mfa-');
  // Starts on a step boundary + 5 s, near real time (the provider's tokens are real).
  let now = Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000;
  const stderrs: string[] = [];
  const secrets: string[] = [];
  const secretOf: Record<string, string> = {};
  const usedCodes: string[] = [];

  const cli = async (args: string[], opts: { input?: string; at?: number; env?: Record<string, string> } = {}): Promise<CliResult> => {
    const res = await runCli(args, { home, env: { AUTH_TEST_NOW_MS: String(opts.at ?? now), ...opts.env }, ...(opts.input !== undefined ? { input: opts.input } : {}) });
    stderrs.push(res.stderr);
    return res;
  };
  const submit = (args: string[], code: string, at = now) => {
    usedCodes.push(code);
    return cli(args, { input: `${code}\n`, at });
  };
  const state = (profile: string) => JSON.parse(readFileSync(join(home, 'mfa', `${profile}.json`), 'utf8'));
  const mfaStatus = async (profile: string) => JSON.parse((await cli(['mfa', 'status', '--json', '-p', profile])).stdout);

  /** `auth mfa setup` with a piped stdin: read the URI from stderr, answer with the current code. */
  async function setup(profile: string, answer?: (secret: string) => string) {
    const p = spawnOpen(['mfa', 'setup', '-p', profile], home, { AUTH_TEST_NOW_MS: String(now) });
    const [uri] = await waitFor(p.child, p.stderrText, URI_PATTERN);
    const secret = secretFromUri(uri);
    p.child.stdin!.end(`${answer ? answer(secret) : totpAt(secret, now)}\n`);
    const res = await p.result;
    secrets.push(secret);
    if (res.code === 0) secretOf[profile] = secret;
    return { secret, uri, res, codes: res.stdout.trim().split('\n') };
  }

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 86_400 });
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  let main: { secret: string; codes: string[] };

  it('enrolment is confirmed: a wrong code leaves MFA off and nothing enforced (R93)', async () => {
    const wrong = await setup('default', (secret) => (Number(totpAt(secret, now)) ^ 1).toString().padStart(6, '0'));
    expect(wrong.res.code).toBe(1);
    expect(wrong.res.stderr).toContain('MFA was not turned on');
    expect(wrong.res.stdout).toBe('');
    expect(existsSync(join(home, 'mfa', 'default.json'))).toBe(false);
    expect(existsSync(join(home, 'secrets', 'mfa', 'default'))).toBe(false);
    expect((await cli(['token'])).code).toBe(0);
  });

  it('setup without a TTY: the URI (no QR) on stderr, code from stdin, 10 backup codes on stdout, only hashes kept (R91, R100)', async () => {
    const { secret, uri, res, codes } = await setup('default');
    expect(res.code, res.stderr).toBe(0);
    main = { secret, codes };
    // stdout: exactly 10 distinct `abcde-fghij` codes, one per line, nothing else.
    expect(res.stdout).toBe(`${codes.join('\n')}\n`);
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(BACKUP_LINE);
    expect(new Set(codes).size).toBe(10);
    // The key URI the authenticator app reads: 160-bit secret, SHA-1, 6 digits, 30 s.
    const parsed = new URL(uri);
    expect(parsed.pathname).toMatch(/^\/\/?authcli:default(%40|@)/);
    expect(parsed.searchParams.get('issuer')).toBe('authcli');
    expect(Secret.fromBase32(secret).bytes.length).toBe(20);
    expect(res.stdout).not.toContain(secret);
    // No QR code when stderr is not a terminal.
    expect(res.stderr).not.toMatch(/[▄▀█]/);
    // Secret in a 0600 file (file store); state 0600; no plaintext backup code anywhere (R74, R100).
    if (process.platform !== 'win32') {
      expect(statSync(join(home, 'secrets', 'mfa', 'default')).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, 'mfa', 'default.json')).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, 'mfa')).mode & 0o777).toBe(0o700);
    }
    for (const c of codes) {
      expect(grepTree(home, c)).toEqual([]);
      expect(grepTree(home, c.replace('-', ''))).toEqual([]);
    }
    expect(grepTree(home, secret)).toEqual([join(home, 'secrets', 'mfa', 'default')]);
    // The confirmation opened the window; `auth status` shows it.
    const status = JSON.parse((await cli(['status', '--json'])).stdout);
    expect(status.profiles[0].mfa).toMatch(/^unlocked until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect((await cli(['token'])).code).toBe(0);
  });

  it('lock closes the window: token exits 4 naming `auth mfa unlock`, stdout empty, no prompt without a TTY', async () => {
    const lock = await cli(['mfa', 'lock']);
    expect(lock.code).toBe(0);
    const token = await cli(['token']);
    expect(token.code).toBe(4);
    expect(token.stdout).toBe('');
    expect(token.stderr).toContain('run `auth mfa unlock`');
    expect(JSON.parse((await cli(['status', '--json'])).stdout).profiles[0].mfa).toBe('locked');
  });

  it('login and logout need an unlock too; a locked logout keeps the credential', async () => {
    const logout = await cli(['logout']);
    expect(logout.code).toBe(4);
    expect(logout.stderr).toContain('run `auth mfa unlock`');
    expect(existsSync(join(home, 'credentials', 'default.json'))).toBe(true);
    const login = await cli(['login']);
    expect(login.code).toBe(4);
    expect(login.stderr).not.toContain('Open this URL');
  });

  it('unlock opens a window of mfa.unlockMinutes; token works inside it and exits 4 after it', async () => {
    const configFile = join(home, 'config.yaml');
    const config = parse(readFileSync(configFile, 'utf8'));
    config.profiles.default.mfa = { unlockMinutes: 20 };
    writeFileSync(configFile, stringify(config));
    now += STEP_MS; // the confirmation used the previous step
    const unlock = await submit(['mfa', 'unlock'], totpAt(main.secret, now));
    expect(unlock.code, unlock.stderr).toBe(0);
    expect(unlock.stderr).toContain('MFA unlocked for profile default until');
    expect(unlock.stderr).toContain('(20 minutes)');
    const inside = await cli(['token'], { at: now + 19 * 60_000 });
    expect(inside.code, inside.stderr).toBe(0);
    expect((await sandbox.userinfo(inside.stdout.trim())).status).toBe(200);
    const after = await cli(['token'], { at: now + 20 * 60_000 + 1_000 });
    expect(after.code).toBe(4);
    expect(after.stdout).toBe('');
    expect(after.stderr).toContain('run `auth mfa unlock`');
  });

  it('replayed codes are rejected, including an older in-window code after a newer one (R95); one message for every bad code (R99)', async () => {
    const { secret, res } = await setup('p-replay');
    expect(res.code).toBe(0);
    const args = ['mfa', 'unlock', '-p', 'p-replay'];
    const t = Math.floor(now / STEP_MS);
    const replay = await submit(args, totpAt(secret, now)); // the step the confirmation used
    const short = await submit(args, '12345');
    expect(replay.code).toBe(4);
    expect(short.code).toBe(4);
    expect(short.stderr).toBe(replay.stderr);
    expect(replay.stderr).toContain('Invalid code');
    now += STEP_MS;
    expect((await submit(args, totpForStep(secret, t + 1))).code).toBe(0);
    const again = await submit(args, totpForStep(secret, t + 1));
    expect(again.code).toBe(4);
    expect(again.stderr).toBe(replay.stderr);
    now += STEP_MS;
    expect((await submit(args, totpForStep(secret, t + 2))).code).toBe(0);
    const older = await submit(args, totpForStep(secret, t + 1)); // T−1 now, but older than the last accepted
    expect(older.code).toBe(4);
    const wrongDigit = await submit(args, ((Number(totpForStep(secret, t + 2)) + 1) % 1_000_000).toString().padStart(6, '0'));
    expect(wrongDigit.code).toBe(4);
    expect(wrongDigit.stderr).toBe(replay.stderr);
    expect(older.stderr).toBe(replay.stderr);
  });

  it('accepts T−1 and T+1, rejects T−2 and T+2 (R94)', async () => {
    const { secret } = await setup('p-window');
    const args = ['mfa', 'unlock', '-p', 'p-window'];
    now += 5 * STEP_MS;
    let t = Math.floor(now / STEP_MS);
    expect((await submit(args, totpForStep(secret, t - 1))).code).toBe(0);
    now += 5 * STEP_MS;
    t = Math.floor(now / STEP_MS);
    expect((await submit(args, totpForStep(secret, t + 1))).code).toBe(0);
    now += 5 * STEP_MS;
    t = Math.floor(now / STEP_MS);
    expect((await submit(args, totpForStep(secret, t + 2))).code).toBe(4);
    expect((await submit(args, totpForStep(secret, t - 2))).code).toBe(4);
    expect((await submit(args, totpForStep(secret, t))).code).toBe(0);
    expect(state('p-window').failures).toBe(0);
  });

  it('3 failures in 3 separate processes lock for 15 minutes, even for the right code; then it works again (R96)', async () => {
    const { secret } = await setup('p-lock');
    const args = ['mfa', 'unlock', '-p', 'p-lock'];
    now += STEP_MS;
    const bad = (Number(totpAt(secret, now)) ^ 7).toString().padStart(6, '0');
    const first = await submit(args, bad);
    const second = await submit(args, '000000' === bad ? '111111' : '000000');
    expect(first.stderr).toContain('Invalid code');
    expect(second.stderr).toContain('Invalid code');
    const third = await submit(args, '999999' === totpAt(secret, now) ? '999998' : '999999');
    expect(third.code).toBe(4);
    const until = new Date(now + 15 * 60_000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    expect(third.stderr).toContain(`locked until ${until}`);
    now += STEP_MS;
    const right = await submit(args, totpAt(secret, now));
    expect(right.code).toBe(4);
    expect(right.stderr).toContain(`locked until ${until}`);
    expect((await mfaStatus('p-lock')).state).toBe('locked-out');
    const later = now + 15 * 60_000 + 1_000;
    const ok = await submit(args, totpAt(secret, later), later);
    expect(ok.code, ok.stderr).toBe(0);
    expect(state('p-lock').failures).toBe(0);
    now = later;
  });

  it('concurrent wrong guesses are each counted before checking, and the lock engages (R97)', async () => {
    const { secret } = await setup('p-race');
    now += STEP_MS;
    const wrong = totpAt(secret, now) === '424242' ? '242424' : '424242';
    const results = await Promise.all(Array.from({ length: 12 }, () => submit(['mfa', 'unlock', '-p', 'p-race'], wrong)));
    expect(results.every((r) => r.code === 4)).toBe(true);
    const s = state('p-race');
    expect(s.failures).toBe(12);
    expect(s.lockedUntil).toBeGreaterThan(now);
    expect((await submit(['mfa', 'unlock', '-p', 'p-race'], totpAt(secret, now))).code).toBe(4);
  });

  let backup: { secret: string; codes: string[] };
  it('a backup code works once; two processes racing with the same code: exactly one wins (R100)', async () => {
    backup = await setup('p-backup');
    const args = ['mfa', 'unlock', '-p', 'p-backup'];
    const [c0, c1, c2] = backup.codes as [string, string, string];
    const first = await submit(args, c0);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('9 backup codes left');
    const reused = await submit(args, c0);
    expect(reused.code).toBe(4);
    expect(reused.stderr).toContain('Invalid code');
    const race = await Promise.all([submit(args, c1), submit(args, c1)]);
    expect(race.map((r) => r.code).sort()).toEqual([0, 4]);
    // Typed without the hyphen and in capitals, it is the same code.
    expect((await submit(args, c2.replace('-', '').toUpperCase())).code).toBe(0);
    expect((await mfaStatus('p-backup')).backupCodesLeft).toBe(7);
  });

  it('regenerating backup codes needs a valid code and counts failures; old codes stop working (R102)', async () => {
    const args = ['mfa', 'backup-codes', '-p', 'p-backup'];
    now += STEP_MS;
    const refused = await submit(args, '000001' === totpAt(backup.secret, now) ? '000002' : '000001');
    expect(refused.code).toBe(4);
    expect(refused.stdout).toBe('');
    expect((await mfaStatus('p-backup')).failures).toBe(1);
    const ok = await submit(args, totpAt(backup.secret, now));
    expect(ok.code, ok.stderr).toBe(0);
    const fresh = ok.stdout.trim().split('\n');
    expect(fresh).toHaveLength(10);
    for (const c of fresh) expect(c).toMatch(BACKUP_LINE);
    expect(ok.stderr).toContain('the old ones no longer work');
    expect((await submit(['mfa', 'unlock', '-p', 'p-backup'], backup.codes[5]!)).code).toBe(4);
    expect((await submit(['mfa', 'unlock', '-p', 'p-backup'], fresh[0]!)).code).toBe(0);
    backup.codes = fresh.slice(1);
  });

  it('a missing or damaged state file fails closed: the right TOTP code is refused, a backup code recovers (R98)', async () => {
    const stateFile = join(home, 'mfa', 'default.json');
    for (const damage of [() => rmSync(stateFile), () => writeFileSync(stateFile, '{"v":1,"failures":')]) {
      damage();
      now += STEP_MS;
      const token = await cli(['token']);
      expect(token.code).toBe(4);
      expect(token.stdout).toBe('');
      expect(token.stderr).toMatch(/use a backup code/i);
      const totp = await submit(['mfa', 'unlock'], totpAt(main.secret, now));
      expect(totp.code).toBe(4);
      expect(totp.stderr).toMatch(/use a backup code/i);
      const code = main.codes.shift()!;
      const recovered = await submit(['mfa', 'unlock'], code);
      expect(recovered.code, recovered.stderr).toBe(0);
      expect((await cli(['token'])).code).toBe(0);
    }
    // After recovery TOTP works again from the next steps on.
    now += 2 * STEP_MS;
    expect((await submit(['mfa', 'unlock'], totpAt(main.secret, now))).code).toBe(0);
  });

  it('a state file left from an older secret is not trusted: backup code required (R98)', async () => {
    const stateFile = join(home, 'mfa', 'p-window.json');
    const old = readFileSync(stateFile, 'utf8');
    const first = secretOf['p-window']!;
    now += STEP_MS;
    expect((await submit(['mfa', 'disable', '-p', 'p-window'], totpAt(first, now))).code).toBe(0);
    now += STEP_MS;
    const again = await setup('p-window');
    expect(again.res.code).toBe(0);
    writeFileSync(stateFile, old);
    now += STEP_MS;
    const totp = await submit(['mfa', 'unlock', '-p', 'p-window'], totpAt(again.secret, now));
    expect(totp.code).toBe(4);
    expect(totp.stderr).toMatch(/older secret.*use a backup code/i);
    expect((await submit(['mfa', 'unlock', '-p', 'p-window'], again.codes[0]!)).code).toBe(0);
  });

  it('disable needs a valid code (a wrong one is refused and counted); then the secret and state are gone (R102)', async () => {
    now += STEP_MS;
    const refused = await submit(['mfa', 'disable'], '00000000');
    expect(refused.code).toBe(4);
    expect(existsSync(join(home, 'mfa', 'default.json'))).toBe(true);
    expect(state('default').failures).toBe(1);
    const ok = await submit(['mfa', 'disable'], totpAt(main.secret, now));
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(join(home, 'mfa', 'default.json'))).toBe(false);
    expect(existsSync(join(home, 'secrets', 'mfa', 'default'))).toBe(false);
    await cli(['mfa', 'lock']);
    expect((await cli(['token'])).code).toBe(0);
    expect(JSON.parse((await cli(['status', '--json'])).stdout).profiles[0].mfa).toBe('off');
    // Unlocking a profile without MFA is a usage error, not a silent success.
    expect((await submit(['mfa', 'unlock'], '123456')).code).toBe(2);
  });

  it('codes are never taken from argv (R86, R101)', async () => {
    const res = await cli(['mfa', 'unlock', '-p', 'p-window', '123456']);
    expect(res.code).toBe(2);
    const help = await cli(['mfa', 'unlock', '--help']);
    expect(help.stdout).not.toMatch(/--code|--otp|--totp/);
  });

  it('no TOTP secret, backup code or submitted code ever reaches stderr outside enrolment (R85, R87, R91)', async () => {
    const debug = await submit(['--debug', 'mfa', 'unlock', '-p', 'p-backup'], backup.codes[0]!);
    expect(debug.code).toBe(0);
    const enrolment = (s: string) => URI_PATTERN.test(s);
    const text = stderrs.filter((s) => !enrolment(s)).join('\n');
    for (const s of secrets) expect(text).not.toContain(s);
    for (const c of [...main.codes, ...backup.codes]) expect(text).not.toContain(c);
    for (const c of usedCodes.filter((c) => c.length >= 6)) expect(text).not.toContain(c);
    // Enrolment runs print the URI (the secret) and nothing else secret.
    for (const s of stderrs.filter(enrolment)) expect(s.match(/otpauth:/g)).toHaveLength(1);
  });
});
