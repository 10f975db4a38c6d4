import { describe, expect, it } from 'vitest';
import type { Credential } from '../../src/domain/credential.js';
import { parseState, type MfaState } from '../../src/domain/mfa-state.js';
import { chooseCopy, decideToken, DEFAULT_MIN_TTL_S, EXPIRY_SKEW_MS, expiredToken, idTokenExpiresAt, mfaWindowOpen, needsRefresh } from '../../src/domain/token-plan.js';

// The one token rule (src/domain/token-plan.ts), in process: both `auth token` paths run it,
// and test/token-differential.test.ts checks they agree end to end.

const NOW = 1_800_000_000_000;
const jwt = (exp: number) => `e30.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;
const cred = (over: Partial<Credential> = {}): Credential => ({
  kind: 'oauth', accessToken: 'AT', tokenType: 'Bearer', expiresAt: NOW + 3_600_000, refreshToken: 'RT',
  scope: 'openid', issuer: 'https://issuer.example', clientId: 'cli', obtainedAt: NOW - 60_000, ...over,
} as Credential);
const req = (over: Partial<{ minTtlMs: number; idToken: boolean; noRefresh: boolean }> = {}) => ({ minTtlMs: DEFAULT_MIN_TTL_S * 1000, idToken: false, noRefresh: false, ...over });

describe('decideToken', () => {
  const table: Array<[string, Credential, ReturnType<typeof req>, boolean, ReturnType<typeof decideToken>]> = [
    ['valid for an hour: serve', cred(), req(), true, { kind: 'serve' }],
    ['inside the default min-TTL: refresh', cred({ expiresAt: NOW + 200_000 }), req(), true, { kind: 'refresh' }],
    ['a larger --min-ttl makes it due', cred(), req({ minTtlMs: 7_200_000 }), true, { kind: 'refresh' }],
    ['--min-ttl 0 still keeps the 60 s skew margin', cred({ expiresAt: NOW + 30_000 }), req({ minTtlMs: 0 }), true, { kind: 'refresh' }],
    ['due but unexpired with --no-refresh: serve', cred({ expiresAt: NOW + 200_000 }), req({ noRefresh: true }), true, { kind: 'serve' }],
    ['expired with --no-refresh', cred({ expiresAt: NOW - 1 }), req({ noRefresh: true }), true, { kind: 'expired', which: 'access token' }],
    ['expired, nothing to refresh with', cred({ expiresAt: NOW - 1 }), req(), false, { kind: 'expired', which: 'access token' }],
    ['due, unexpired, nothing to refresh with: serve', cred({ expiresAt: NOW + 200_000 }), req(), false, { kind: 'serve' }],
    ['no expiry at all (GitHub): serve', cred({ expiresAt: undefined }), req(), true, { kind: 'serve' }],
    ['--id-token without one', cred(), req({ idToken: true }), true, { kind: 'no-id-token' }],
    ['--id-token: its own exp counts', cred({ idToken: jwt(NOW / 1000 + 100) }), req({ idToken: true }), true, { kind: 'refresh' }],
    ['--id-token expired, --no-refresh', cred({ idToken: jwt(NOW / 1000 - 1) }), req({ idToken: true, noRefresh: true }), true, { kind: 'expired', which: 'ID token' }],
    ['an expired ID token does not matter without --id-token', cred({ idToken: jwt(NOW / 1000 - 1) }), req(), true, { kind: 'serve' }],
  ];
  for (const [what, c, r, canRefresh, expected] of table) {
    it(what, () => expect(decideToken(c, r, NOW, canRefresh)).toEqual(expected));
  }
});

describe('freshness primitives', () => {
  it('the skew margin is 60 s and wins over a smaller min-TTL', () => {
    expect(EXPIRY_SKEW_MS).toBe(60_000);
    expect(needsRefresh(cred({ expiresAt: NOW + 59_000 }), 0, NOW)).toBe(true);
    expect(needsRefresh(cred({ expiresAt: NOW + 61_000 }), 0, NOW)).toBe(false);
  });
  it('expiredToken names the access token first', () => {
    expect(expiredToken(cred({ expiresAt: NOW, idToken: jwt(NOW / 1000 - 5) }), NOW, true)).toBe('access token');
    expect(expiredToken(cred({ idToken: jwt(NOW / 1000 - 5) }), NOW, true)).toBe('ID token');
    expect(expiredToken(cred(), NOW, true)).toBeUndefined();
  });
  it('an ID token whose exp cannot be read counts as expired', () => {
    expect(idTokenExpiresAt(cred({ idToken: 'not-a-jwt' }))).toBe(0);
    expect(idTokenExpiresAt(cred({ idToken: jwt(123) }))).toBe(123_000);
    expect(idTokenExpiresAt(cred({ idToken: jwt(123), idTokenExpiresAt: 456 }))).toBe(456);
  });
});

describe('chooseCopy: the fallback file beside a keychain entry is the newer copy', () => {
  it('file wins and must move', () => expect(chooseCopy('A', 'B')).toEqual({ value: 'B', from: 'fallback-file', move: true }));
  it('only the file: it must move into the keychain', () => expect(chooseCopy(undefined, 'B')).toEqual({ value: 'B', from: 'fallback-file', move: true }));
  it('only the entry', () => expect(chooseCopy('A', undefined)).toEqual({ value: 'A', from: 'keychain', move: false }));
  it('neither', () => expect(chooseCopy(undefined, undefined)).toEqual({ value: undefined, from: 'none', move: false }));
});

describe('the MFA precondition', () => {
  const state = (over: Partial<MfaState> = {}): MfaState => ({ v: 1, secretId: 'id', store: 'file', enabledAt: 1, lastStep: 0, failures: 0, lockedUntil: 0, unlockedUntil: NOW + 60_000, requireBackup: false, ...over });
  it('open inside the unlock window only', () => {
    expect(mfaWindowOpen(state(), NOW)).toBe(true);
    expect(mfaWindowOpen(state({ unlockedUntil: NOW }), NOW)).toBe(false);
    expect(mfaWindowOpen(state({ unlockedUntil: 0 }), NOW)).toBe(false);
  });
  it('never while locked out or when only a backup code may open it', () => {
    expect(mfaWindowOpen(state({ lockedUntil: NOW + 1 }), NOW)).toBe(false);
    expect(mfaWindowOpen(state({ requireBackup: true }), NOW)).toBe(false);
  });
  it('a damaged state file parses to nothing (fail closed)', () => {
    expect(parseState(JSON.stringify(state()))).toEqual(state());
    expect(parseState('{}')).toBeUndefined();
    expect(parseState('not json')).toBeUndefined();
    expect(parseState(JSON.stringify({ ...state(), failures: -1 }))).toBeUndefined();
    expect(parseState(JSON.stringify({ ...state(), store: 'cloud' }))).toBeUndefined();
  });
});
