import { describe, expect, it } from 'vitest';
import { beginEnrolment, checkCanVerify, confirmEnrolment, disableMfa, enableMfa, lockMfa, mfaFor, mfaStatus, renewBackupCodes, unlockMfa } from '../../src/app/mfa.js';
import { codeAt } from '../../src/mfa/totp.js';
import { fakeDeps, NOW } from './fake-deps.js';

// The MFA use cases (src/app/mfa.ts) in process: a temp AUTH_HOME with the file store, a clock
// the test moves. Codes come from the same TOTP function an authenticator app would run.

function setup() {
  const f = fakeDeps({});
  let now = NOW;
  f.deps.clock = { now: () => now };
  return { ...f, advance: (ms: number) => void (now += ms), at: () => now };
}

describe('MFA use cases', () => {
  it('enrol → confirm → on and unlocked; lock; unlock with the next code; a backup code; disable', async () => {
    const { deps, advance, at } = setup();
    const ctx = mfaFor(undefined, deps);
    expect((await mfaStatus(ctx, deps)).json).toMatchObject({ profile: 'default', enabled: false, state: 'off' });

    const enrolment = await beginEnrolment(ctx, deps);
    expect(enrolment.uri).toMatch(/^otpauth:\/\/totp\//);
    expect(confirmEnrolment(enrolment, '000000', deps) === undefined || codeAt(enrolment.params, at()) === '000000').toBe(true);
    const step = confirmEnrolment(enrolment, codeAt(enrolment.params, at()), deps);
    expect(step).toBeTypeOf('number');
    const on = await enableMfa(ctx, enrolment, step!, deps);
    expect(on.backupCodes.length).toBeGreaterThan(0);
    expect(on.unlockedUntil).toBeGreaterThan(at());
    await expect(beginEnrolment(ctx, deps)).rejects.toMatchObject({ code: 'AUTH_USAGE' });
    expect((await mfaStatus(ctx, deps)).json).toMatchObject({ enabled: true, state: 'unlocked', backupCodesLeft: on.backupCodes.length });

    expect(await lockMfa(ctx, deps)).toBe('locked');
    expect((await mfaStatus(ctx, deps)).json.state).toBe('locked');

    advance(30_000);
    expect(await checkCanVerify(ctx, true, deps)).toBeUndefined();
    const used = await unlockMfa(ctx, codeAt(enrolment.params, at()), deps);
    expect(used).toMatchObject({ kind: 'totp' });
    expect(used.until).toBeGreaterThan(at());
    expect((await mfaStatus(ctx, deps)).json.state).toBe('unlocked');

    const backup = await unlockMfa(ctx, on.backupCodes[0]!, deps);
    expect(backup).toMatchObject({ kind: 'backup', backupLeft: on.backupCodes.length - 1 });
    await expect(unlockMfa(ctx, on.backupCodes[0]!, deps)).rejects.toBeDefined();

    advance(30_000);
    const fresh = await renewBackupCodes(ctx, codeAt(enrolment.params, at()), deps);
    expect(fresh).not.toContain(on.backupCodes[1]);
    await expect(unlockMfa(ctx, on.backupCodes[1]!, deps)).rejects.toBeDefined();

    await disableMfa(ctx, fresh[0]!, deps);
    expect((await mfaStatus(ctx, deps)).json).toMatchObject({ enabled: false, state: 'off' });
    expect(await lockMfa(ctx, deps)).toBe('missing');
  });

  it('a wrong code is refused and changes nothing', async () => {
    const { deps, at } = setup();
    const ctx = mfaFor(undefined, deps);
    const enrolment = await beginEnrolment(ctx, deps);
    const step = confirmEnrolment(enrolment, codeAt(enrolment.params, at()), deps)!;
    await enableMfa(ctx, enrolment, step, deps);
    await lockMfa(ctx, deps);
    const wrong = codeAt(enrolment.params, at()) === '123456' ? '654321' : '123456';
    await expect(unlockMfa(ctx, wrong, deps)).rejects.toMatchObject({ code: 'AUTH_MFA_LOCKED', message: expect.stringContaining('Invalid code') });
    expect((await mfaStatus(ctx, deps)).json).toMatchObject({ state: 'locked', failures: 1 });
  });
});
