import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorLine } from './support/cli.js';
import type { FakeAs, Reply } from './support/fake-as.js';
import { expectNothingStored, fakeSessions, type Session } from './support/security.js';

// When a refresh ends a session and when it does not (README "auth refresh",
// docs/architecture.md "Session end"): real servers answer a dead refresh token with
// invalid_grant, but also with 400 invalid_request or an empty 400 body. Every 400/401
// refusal ends the session (exit 4, the dead credential removed, status says so); 5xx and
// errors about the client or the request do not (exit 1, the credential untouched).

const credFile = (s: Session) => join(s.home, 'credentials', 'default.json');
const refreshes = (fake: FakeAs) => fake.requestsTo('/token').filter((r) => r.form.get('grant_type') === 'refresh_token');

describe.concurrent('a refresh the provider refuses', () => {
  const { loggedIn } = fakeSessions();

  const ending: Array<[string, Reply]> = [
    ['an empty 400 body', { status: 400, body: '' }],
    ['400 invalid_request', { status: 400, body: { error: 'invalid_request', error_description: 'refresh token is not valid' } }],
    ['401 with an empty body', { status: 401, body: '' }],
    ['400 invalid_grant', { status: 400, body: { error: 'invalid_grant' } }],
  ];
  /** Makes the stored access token due, so a command refreshes before it answers. */
  const expireStored = (s: Session) => {
    const cred = JSON.parse(readFileSync(credFile(s), 'utf8')) as Record<string, unknown>;
    writeFileSync(credFile(s), JSON.stringify({ ...cred, expires_at: Math.floor(Date.now() / 1000) - 5 }), { mode: 0o600 });
  };
  const commands: Array<[string, string[]]> = [
    ['refresh', ['refresh', '--force']],
    ['token', ['token']],
    ['exec', ['exec', '--', process.execPath, '-e', 'process.exit(0)']],
  ];
  for (const [what, reply] of ending) {
    for (const [name, args] of commands) {
      it(`${what} to \`auth ${name}\` ends the session: exit 4 naming \`auth login -p default\`, the credential removed, status exit 4`, async () => {
        const { fake, s } = await loggedIn();
        if (name !== 'refresh') expireStored(s);
        fake.tokenScript.push(reply);
        const res = await s.run(args);
        expect(res.code, res.stderr).toBe(4);
        expect(res.stdout).toBe('');
        expect(errorLine(res.stderr)).toMatch(/The session for profile default has ended/);
        expect(res.stderr).toContain('auth login -p default');
        expect(refreshes(fake)).toHaveLength(1);
        expectNothingStored(s);
        const status = await s.run(['status']);
        expect(status.code).toBe(4);
        expect(status.stderr).toContain('auth login -p default');
        const json = JSON.parse((await s.run(['status', '--json'])).stdout) as { profiles: Array<{ loggedIn: boolean; refreshable: boolean }> };
        expect(json.profiles[0]).toMatchObject({ loggedIn: false, refreshable: false });
      });
    }
  }

  const keeping: Array<[string, Reply]> = [
    ['HTTP 500', { status: 500, body: { error: 'server_error' } }],
    ['HTTP 503 with an empty body', { status: 503, body: '' }],
    ['400 invalid_client (a client problem, not the token)', { status: 400, body: { error: 'invalid_client' } }],
    ['401 invalid_client', { status: 401, body: { error: 'invalid_client' } }],
  ];
  for (const [what, reply] of keeping) {
    it(`${what} is not a session end: exit 1, the credential untouched, status still exit 0`, async () => {
      const { fake, s } = await loggedIn();
      const before = readFileSync(credFile(s));
      fake.tokenScript.push(reply);
      const res = await s.run(['refresh', '--force']);
      expect(res.code, res.stderr).toBe(1);
      expect(res.stdout).toBe('');
      expect(errorLine(res.stderr)).toMatch(/^error: Refreshing the access token failed/);
      expect(errorLine(res.stderr)).not.toMatch(/has ended/);
      expect(readFileSync(credFile(s)).equals(before)).toBe(true);
      expect((await s.run(['status'])).code).toBe(0);
      // The next refresh goes through with the same (still valid) refresh token.
      const again = await s.run(['refresh', '--force']);
      expect(again.code, again.stderr).toBe(0);
      expect(new Set(refreshes(fake).map((r) => r.form.get('refresh_token'))).size).toBe(1);
    });
  }
});

describe.concurrent('logout at a provider that cannot revoke', () => {
  const fresh = fakeSessions();

  it('no revocation endpoint: a warning (not ✓) that the session stays valid at the provider until it expires, naming its end_session_endpoint; exit 0; nothing sent', async () => {
    const { fake, s } = await fresh();
    fake.metadata.revocation_endpoint = undefined;
    fake.metadata.end_session_endpoint = `${fake.base}/session/end`;
    expect((await s.login(fake)).code).toBe(0);
    const res = await s.run(['logout']);
    expect(res.code, res.stderr).toBe(0);
    const line = res.stderr.split('\n').find((l) => l.includes('Logged out of profile default')) ?? '';
    expect(line.startsWith('! ')).toBe(true);
    expect(line).not.toContain('✓');
    expect(line).toContain('provider has no revocation endpoint; removed locally');
    expect(line).toMatch(/stays valid at the provider until it expires \(the access token until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; the refresh token/);
    expect(line).toContain(`sign out at ${fake.base}/session/end`);
    expect(fake.requestsTo('/revoke')).toHaveLength(0);
    expectNothingStored(s);
  });

  it('no revocation endpoint and no end_session_endpoint: the warning without a sign-out address', async () => {
    const { fake, s } = await fresh();
    fake.metadata.revocation_endpoint = undefined;
    expect((await s.login(fake)).code).toBe(0);
    const res = await s.run(['logout']);
    expect(res.code, res.stderr).toBe(0);
    const line = res.stderr.split('\n').find((l) => l.includes('Logged out of profile default')) ?? '';
    expect(line.startsWith('! ')).toBe(true);
    expect(line).toContain('stays valid at the provider until it expires');
    expect(line).not.toContain('sign out at');
  });
});
