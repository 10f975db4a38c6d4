import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { errorLine, makeHome, runCli } from './support/cli.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

// docs/design.md §5: a token inside --min-ttl is refreshed early, but when the provider cannot
// be reached the still-valid token is handed out (warning on stderr, exit 0) by `auth token` and
// `auth exec`. An expired token, and `auth refresh --force`, still fail; nothing stored changes.

describe('the provider is down while the token is still valid', () => {
  let sandbox: Sandbox;
  const { home, cleanup } = makeHome('auth-outage-');
  const credFile = join(home, 'credentials', 'default.json');
  const stored = () => JSON.parse(readFileSync(credFile, 'utf8')) as { access_token: string; id_token?: string; refresh_token: string };

  beforeAll(async () => {
    sandbox = await startSandbox({ accessTokenTTL: 3600 });
    const login = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(login.code, login.stderr).toBe(0);
    await sandbox.close();
  });
  afterAll(cleanup);

  it('auth token --min-ttl beyond the expiry: the current token, a warning naming the failure, exit 0; the credential is unchanged', async () => {
    const before = readFileSync(credFile, 'utf8');
    const res = await runCli(['token', '--min-ttl', '7200'], { home });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${stored().access_token}\n`);
    expect(res.stderr).toMatch(/^! Could not refresh the token of profile default \(.+\); using the current one, which expires in /m);
    expect(readFileSync(credFile, 'utf8')).toBe(before);
  });

  it('the same for --id-token and auth exec', async () => {
    const id = await runCli(['token', '--id-token', '--min-ttl', '7200'], { home });
    expect(id.code, id.stderr).toBe(0);
    expect(id.stdout).toBe(`${stored().id_token}\n`);
    // auth exec refreshes 300 s ahead: move the clock to 200 s before the expiry.
    const exec = await runCli(['exec', '--', process.execPath, '-e', 'process.stdout.write(process.env.AUTH_TOKEN ?? "none")'], { home, env: { AUTH_TEST_NOW_MS: String(Date.now() + 3400_000) } });
    expect(exec.code, exec.stderr).toBe(0);
    expect(exec.stdout).toBe(stored().access_token);
  });

  it('auth refresh --force still fails (exit 1, the network named) and keeps the credential', async () => {
    const before = readFileSync(credFile, 'utf8');
    const res = await runCli(['refresh', '--force'], { home });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(errorLine(res.stderr)).toMatch(/error: .*(connect|reach|network)/i);
    expect(readFileSync(credFile, 'utf8')).toBe(before);
  });

  it('an expired token is not handed out: exit 1, nothing on stdout', async () => {
    const res = await runCli(['token'], { home, env: { AUTH_TEST_NOW_MS: String(Date.now() + 2 * 3600_000) } });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
  });
});
