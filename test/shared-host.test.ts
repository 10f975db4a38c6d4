import { describe, expect, it } from 'vitest';
import { chmodSync, chownSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorLine } from './support/cli.js';
import { startFakeAs } from './support/fake-as.js';
import { fakeSessions, type Session } from './support/security.js';
import { requireSystem } from './support/system.js';

// Another local user on a shared host must not be able to steer where `auth` sends a
// refresh token (README "Storage and security model"): a file that names endpoints — the
// config, the discovery cache — is read only when nobody else could have written it.

const configFile = (s: Session) => join(s.home, 'config.yaml');
const refreshes = (fake: { requestsTo(p: string): Array<{ form: URLSearchParams }> }) => fake.requestsTo('/token').filter((r) => r.form.get('grant_type') === 'refresh_token');
const isRoot = process.getuid?.() === 0;
const otherUser = requireSystem('Another local user (root, to chown files to uid 65534)', isRoot, 'the tests do not run as root');

describe.concurrent('files that steer where tokens go', () => {
  const fresh = fakeSessions();
  const { loggedIn } = fresh;

  /**
   * Points the cached discovery entry's token endpoint at an attacker's server, makes the
   * file untrusted with `taint`, and checks the refresh still goes to the real provider.
   */
  const expectPlantedCacheIgnored = async (taint: (file: string) => void) => {
    const { fake, s } = await loggedIn();
    const attacker = await startFakeAs();
    try {
      const dir = join(s.home, 'cache', 'discovery');
      const file = join(dir, readdirSync(dir)[0]!);
      const cached = JSON.parse(readFileSync(file, 'utf8')) as { metadata: Record<string, unknown> };
      cached.metadata.token_endpoint = `${attacker.base}/token`;
      writeFileSync(file, JSON.stringify(cached), { mode: 0o600 });
      taint(file);
      const res = await s.run(['refresh', '--force']);
      expect(res.code, res.stderr).toBe(0);
      expect(attacker.requests).toHaveLength(0);
      expect(refreshes(fake)).toHaveLength(1);
    } finally {
      await attacker.close();
    }
  };

  it('a config.yaml others can write is refused (exit 2) with the chmod that fixes it — by the warm path of `auth token` too', async () => {
    const { s } = await loggedIn();
    expect((await s.run(['token'])).code).toBe(0);
    chmodSync(configFile(s), 0o664);
    for (const args of [['token'], ['status'], ['refresh', '--force']]) {
      const res = await s.run(args);
      expect(res.code, res.stderr).toBe(2);
      expect(res.stdout).toBe('');
      expect(errorLine(res.stderr)).toContain(`Refusing to use the config file ${configFile(s)}: it is writable by other users (mode 0664)`);
      expect(res.stderr).toContain(`chmod go-w ${configFile(s)}`);
    }
    chmodSync(configFile(s), 0o644);
    expect((await s.run(['token'])).code).toBe(0);
  });

  it('a config directory others can write is refused too (they could replace the file)', async () => {
    const { s } = await loggedIn();
    chmodSync(s.home, 0o777);
    try {
      const res = await s.run(['token']);
      expect(res.code, res.stderr).toBe(2);
      expect(errorLine(res.stderr)).toContain(`its directory ${s.home} is writable by other users (mode 0777)`);
      expect(res.stderr).toContain(`chmod go-w ${s.home}`);
    } finally {
      chmodSync(s.home, 0o700);
    }
  });

  it.skipIf(otherUser.skip)('a config.yaml owned by another user is refused (exit 2)', async () => {
    otherUser.assertAvailable();
    const { s } = await loggedIn();
    chownSync(configFile(s), 65534, 65534);
    const res = await s.run(['token']);
    expect(res.code, res.stderr).toBe(2);
    expect(errorLine(res.stderr)).toContain('belongs to another user (uid 65534)');
  });

  it('a discovery-cache entry others can write is ignored: the refresh goes to the real token endpoint, never to the planted one', async () => {
    await expectPlantedCacheIgnored((file) => chmodSync(file, 0o666));
  });

  it.skipIf(otherUser.skip)('a discovery-cache entry owned by another user is ignored', async () => {
    otherUser.assertAvailable();
    await expectPlantedCacheIgnored((file) => chownSync(file, 65534, 65534));
  });

  it('redirect.host must be a loopback address: 0.0.0.0 or :: is a config error (exit 2) and nothing listens', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
      const { fake, s } = await fresh();
      writeFileSync(configFile(s), `profiles:\n  default:\n    issuer: ${fake.issuer}\n    clientId: ${fake.clientId}\n    redirect: { host: "${host}" }\n`);
      const res = await s.run(['login']);
      expect(res.code, res.stderr).toBe(2);
      expect(errorLine(res.stderr)).toMatch(/field "profiles\.default\.redirect\.host" must be a loopback address/);
      expect(fake.requestsTo('/authorize')).toHaveLength(0);
    }
    const { fake, s } = await fresh();
    writeFileSync(configFile(s), `profiles:\n  default:\n    issuer: ${fake.issuer}\n    clientId: ${fake.clientId}\n    redirect: { host: "127.0.0.1" }\n`);
    expect((await s.run(['login'])).code).toBe(0);
  });

  it('a config file over 1 MiB is refused (exit 2) before it is parsed', async () => {
    const { s } = await fresh();
    writeFileSync(configFile(s), `# ${'x'.repeat(1024 * 1024 + 10)}\nprofiles: {}\n`);
    const res = await s.run(['status']);
    expect(res.code, res.stderr).toBe(2);
    expect(errorLine(res.stderr)).toMatch(/more than the 1024 KiB such a file can need/);
  });

  it('a token pasted as the profile name is not echoed back in full', async () => {
    const { s } = await fresh();
    const pasted = `eyJhbGciOiJSUzI1NiJ9.${'A'.repeat(60)}.sig+/=`;
    for (const args of [['token', '-p', pasted], ['status', `--profile=${pasted}`], ['profiles', 'use', pasted]]) {
      const res = await s.run(args);
      expect(res.code, res.stderr).toBe(2);
      expect(errorLine(res.stderr)).toContain('Invalid profile name "eyJh…"');
      expect(res.stderr).not.toContain(pasted.slice(0, 12));
    }
  });
});
