import { describe, expect, it } from 'vitest';
import {
  BACKOFF_MAX_MS,
  BACKOFF_MIN_MS,
  GRANT_FAILURE_LIMIT,
  GRANT_FAILURE_WINDOW_MS,
  grantExpired,
  grantsThrottled,
  grantTtlValid,
  localOnly,
  MAX_GRANT_TTL_MS,
  parseAgentRequest,
  parseDuration,
  recentFailures,
  REFRESH_JITTER_MS,
  REFRESH_LEAD_MS,
  refreshAt,
  refreshBackoffMs,
} from '../../src/domain/agent-rules.js';

// The agent's pure rules (src/domain/agent-rules.ts): grant lifetimes, the grant rate limit,
// the refresh schedule and the request check. test/agent.test.ts drives them end to end.

const NOW = 1_800_000_000_000;

describe('parseDuration and grant TTLs', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['8h', 28_800_000],
    ['7d', 604_800_000],
    [' 30d ', 30 * 86_400_000],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '0s', '5', '1w', '-5m', '1.5h', '8 h', '9999999d'])('%j is refused', (text) => expect(parseDuration(text)).toBeUndefined());
  it('accepts 1 s to 30 days', () => {
    expect(grantTtlValid(1000)).toBe(true);
    expect(grantTtlValid(MAX_GRANT_TTL_MS)).toBe(true);
    expect(grantTtlValid(MAX_GRANT_TTL_MS + 1)).toBe(false);
    expect(grantTtlValid(999)).toBe(false);
  });
  it('a grant is expired at its expiry', () => {
    expect(grantExpired({ expiresAt: NOW }, NOW)).toBe(true);
    expect(grantExpired({ expiresAt: NOW + 1 }, NOW)).toBe(false);
  });
});

describe('the grant rate limit', () => {
  const failures = (n: number, step = 1000) => Array.from({ length: n }, (_, i) => NOW - (n - i) * step);
  it(`${GRANT_FAILURE_LIMIT} failures in a minute are tolerated; the next one throttles`, () => {
    expect(grantsThrottled(failures(GRANT_FAILURE_LIMIT), NOW).throttled).toBe(false);
    const t = grantsThrottled(failures(GRANT_FAILURE_LIMIT + 1), NOW);
    expect(t.throttled).toBe(true);
    // The oldest of the 11 leaves the window 60 s after it happened.
    expect(t.retryAt).toBe(NOW - (GRANT_FAILURE_LIMIT + 1) * 1000 + GRANT_FAILURE_WINDOW_MS);
  });
  it('failures older than the window do not count', () => {
    const old = failures(20, 100).map((t) => t - GRANT_FAILURE_WINDOW_MS);
    expect(recentFailures(old, NOW)).toEqual([]);
    expect(grantsThrottled(old, NOW).throttled).toBe(false);
  });
});

describe('refreshAt: ahead of expiry, jittered, never a loop', () => {
  const hour = { obtainedAt: NOW, expiresAt: NOW + 3_600_000 };
  it('an hour-long token: 300 s before expiry, minus up to 30 s of jitter', () => {
    expect(refreshAt(hour, true, 0)).toBe(hour.expiresAt - REFRESH_LEAD_MS);
    const late = refreshAt(hour, true, 0.9999)!;
    expect(late).toBeLessThanOrEqual(hour.expiresAt - REFRESH_LEAD_MS);
    expect(late).toBeGreaterThan(hour.expiresAt - REFRESH_LEAD_MS - REFRESH_JITTER_MS);
  });
  it('a token shorter-lived than the lead: at half its lifetime', () => {
    expect(refreshAt({ obtainedAt: NOW, expiresAt: NOW + 20_000 }, true, 0.5)).toBe(NOW + 10_000);
  });
  it('already past: at once (a time in the past)', () => {
    expect(refreshAt({ obtainedAt: NOW - 7_200_000, expiresAt: NOW - 1000 }, true, 0)!).toBeLessThan(NOW);
  });
  it('nothing to refresh with, or no expiry: never', () => {
    expect(refreshAt(hour, false, 0)).toBeUndefined();
    expect(refreshAt({ obtainedAt: NOW }, true, 0)).toBeUndefined();
  });
  it('back-off: 30 s doubling to 10 min', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(refreshBackoffMs)).toEqual([BACKOFF_MIN_MS, 60_000, 120_000, 240_000, 480_000, BACKOFF_MAX_MS, BACKOFF_MAX_MS]);
  });
});

describe('parseAgentRequest', () => {
  const ok = (o: object) => parseAgentRequest(JSON.stringify(o));
  it('accepts the requests the clients send', () => {
    expect(ok({ v: 1, op: 'token', auth: { local: 'k' }, minTtl: 300, idToken: false, format: 'raw' }).ok).toBe(true);
    expect(ok({ v: 1, op: 'git', auth: { grant: 't' }, host: 'git.example.com', protocol: 'https' }).ok).toBe(true);
    expect(ok({ v: 1, op: 'grant', auth: { local: 'k' }, ttlMs: 60_000 }).ok).toBe(true);
    expect(ok({ v: 1, op: 'revoke', auth: { local: 'k' }, id: 'abc' }).ok).toBe(true);
  });
  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['another version', JSON.stringify({ v: 2, op: 'ping' })],
    ['no version', JSON.stringify({ op: 'ping' })],
    ['an unknown op', JSON.stringify({ v: 1, op: 'dump' })],
    ['two kinds of auth', JSON.stringify({ v: 1, op: 'ping', auth: { local: 'a', grant: 'b' } })],
    ['a non-string key', JSON.stringify({ v: 1, op: 'ping', auth: { local: 1 } })],
    ['a negative min-TTL', JSON.stringify({ v: 1, op: 'token', minTtl: -1, idToken: false, format: 'raw' })],
    ['a grant over 30 days', JSON.stringify({ v: 1, op: 'grant', ttlMs: MAX_GRANT_TTL_MS + 1 })],
    ['a git request without host', JSON.stringify({ v: 1, op: 'git' })],
  ])('refuses %s', (_what, line) => expect(parseAgentRequest(line).ok).toBe(false));
  it('names the version it speaks', () => {
    const res = parseAgentRequest(JSON.stringify({ v: 2, op: 'ping' }));
    expect(res.ok ? '' : res.error).toContain('this agent speaks 1');
  });
  it('grants reach tokens only', () => {
    expect(['token', 'git', 'ping'].map((op) => localOnly(op as never))).toEqual([false, false, false]);
    expect(['grant', 'grants', 'revoke', 'stop', 'status'].map((op) => localOnly(op as never))).toEqual([true, true, true, true, true]);
  });
});
