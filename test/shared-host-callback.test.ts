import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAs } from './support/fake-as.js';
import { awaitRedirect, expectNothingStored, rawGet, session, targetOf } from './support/security.js';
import { requireSystem } from './support/system.js';

// Another local user who reads the victim's authorization URL (state, nonce, PKCE
// challenge) from the browser's argv signs in as herself with it and races her code
// to the victim's loopback port. The listener answers connections from other users
// 403 and never counts them (README "Storage and security model", shared hosts).

const isRoot = process.getuid?.() === 0;
const tools = process.platform === 'linux' && existsSync('/usr/sbin/useradd') && existsSync('/usr/sbin/runuser') && existsSync('/usr/sbin/userdel');
const secondUser = requireSystem(
  'A second local user (useradd and runuser, as root on Linux)',
  isRoot && tools,
  isRoot ? 'useradd, userdel or runuser is missing' : 'the tests do not run as root, so they cannot create a throwaway user',
);

const mallory = `authm${randomBytes(4).toString('hex')}`;

/**
 * Runs, as the other user, a script that gets her own code for the victim's authorization
 * request and delivers it `times` times to the callback; resolves with the HTTP statuses.
 */
function racingCallback(authorizeUrl: string, times: number): Promise<number[]> {
  const script = `
    const url = process.argv[1], times = Number(process.argv[2]);
    (async () => {
      const res = await fetch(url, { redirect: 'manual', headers: { 'x-fake-account': process.argv[3] } });
      const callback = res.headers.get('location');
      const statuses = [];
      for (let i = 0; i < times; i++) statuses.push((await fetch(callback).catch(() => ({ status: 0 }))).status);
      process.stdout.write(JSON.stringify(statuses));
    })().catch((e) => { process.stderr.write(String(e)); process.exit(3); });`;
  const child = spawn('runuser', ['-u', mallory, '--', process.execPath, '-e', script, authorizeUrl, String(times), mallory], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve, reject) => {
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`the other user's script failed (${code}): ${err}`))));
  });
}

describe.skipIf(secondUser.skip)('another local user racing the sign-in callback', () => {
  beforeAll(() => {
    secondUser.assertAvailable();
    const made = spawnSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', mallory], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`useradd failed: ${made.stderr}`);
  });
  afterAll(() => {
    if (isRoot && tools) spawnSync('userdel', [mallory]);
  });

  it('her code with the valid state gets 403, 40 such requests do not end the sign-in, and the victim signs in as herself', async () => {
    const fake = await startFakeAs();
    const s = session('authorize');
    const child = s.spawnLogin(fake);
    try {
      const callback = await awaitRedirect(fake);
      const authorizeUrl = `${fake.base}/authorize?${fake.authorizations[0]!.params.toString()}`;

      const statuses = await racingCallback(authorizeUrl, 40);
      expect(statuses).toEqual(Array(40).fill(403));
      // Her code was issued for her account and never reached the token endpoint.
      expect(fake.authorizations[1]?.location).toContain(`state=${callback.searchParams.get('state')}`);
      expect(fake.requestsTo('/token')).toHaveLength(0);
      expectNothingStored(s);

      // The sign-in is still waiting: the victim's own browser completes it.
      const real = await rawGet(Number(callback.port), targetOf(callback));
      expect(real.status).toBe(200);
      const res = await child.result;
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr + res.stdout).not.toContain(mallory);
      const token = fake.requestsTo('/token');
      expect(token).toHaveLength(1);
      expect(token[0]!.form.get('code')).toBe(fake.authorizations[0]!.code);
      expect(s.stored()?.access_token).toBe(fake.issued.accessTokens[0]);
      const status = await s.run(['status']);
      expect(status.code).toBe(0);
      expect(status.stdout).not.toContain(mallory);
    } finally {
      child.kill('SIGKILL');
      await fake.close();
      s.cleanup();
    }
  }, 180_000);
});
