import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { approveDeviceInChromium } from './support/chromium-lib.mjs';
import { makeHome, ROOT, runCli, spawnCli, waitForStderr } from './support/cli.js';
import { chromiumAvailable, requireSystem } from './support/system.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
const chromium = requireSystem('Chromium', chromiumAvailable(), 'no /usr/bin/chromium (apt-get install chromium)');
const LAUNCHER = join(ROOT, 'test', 'support', 'chromium-browser.mjs');

/** The launcher outlives `auth login` by the time it takes a screenshot: wait for its log line. */
async function launcherResult(log: string): Promise<{ argv?: string[]; callbackUrl?: string; text?: string; error?: string }> {
  for (let i = 0; i < 200; i++) {
    if (existsSync(log)) {
      const line = readFileSync(log, 'utf8').trim().split('\n').pop();
      if (line) return JSON.parse(line);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the Chromium launcher wrote no result');
}

/** AUTH_UPDATE_SCREENSHOTS=1 refreshes the PNGs under docs/screenshots from this run. */
function keepScreenshot(file: string): void {
  if (process.env.AUTH_UPDATE_SCREENSHOTS === '1') copyFileSync(file, join(ROOT, 'docs', 'screenshots', basename(file)));
}

// The product the way users meet it: `auth login` really opens Chromium.
describe.skipIf(chromium.skip)('real headless Chromium', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ deviceInterval: 1 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('signs in through Chromium and shows the success page (screenshot checked)', async () => {
    chromium.assertAvailable();
    const { home, cleanup } = makeHome();
    try {
      const log = join(home, 'chromium.log');
      const shot = join(home, 'callback-success.png');
      const res = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], {
        home,
        env: { AUTH_BROWSER: LAUNCHER, CHROMIUM_LOG: log, CHROMIUM_SCREENSHOT: shot },
      });
      expect(res.stderr).toContain('✓ Logged in');
      expect(res.code).toBe(0);
      const result = await launcherResult(log);
      expect(result.error).toBeUndefined();
      expect(result.argv).toHaveLength(1);
      expect(result.text).toContain('Signed in');
      expect(result.text).toContain('alice@example.com');
      expect(result.callbackUrl).not.toBe('');
      // The page never echoes the code.
      const code = new URL(result.callbackUrl!).searchParams.get('code')!;
      expect(result.text).not.toContain(code);
      expect(statSync(shot).size).toBeGreaterThan(5_000);
      keepScreenshot(shot);
      expect((await runCli(['status'], { home })).code).toBe(0);
    } finally {
      cleanup();
    }
  });

  it('a denied sign-in shows the error page and stores nothing', async () => {
    chromium.assertAvailable();
    const { home, cleanup } = makeHome();
    try {
      const log = join(home, 'chromium.log');
      const shot = join(home, 'callback-denied.png');
      const res = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], {
        home,
        env: { AUTH_BROWSER: LAUNCHER, CHROMIUM_LOG: log, CHROMIUM_SCREENSHOT: shot, SANDBOX_ACTION: 'deny' },
      });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('access_denied');
      const result = await launcherResult(log);
      expect(result.text).toContain('Sign-in failed');
      expect(result.text).toContain('access_denied');
      expect(existsSync(join(home, 'credentials', 'default.json'))).toBe(false);
      keepScreenshot(shot);
    } finally {
      cleanup();
    }
  });

  it('approves a device-flow sign-in in Chromium', async () => {
    chromium.assertAvailable();
    const { home, cleanup } = makeHome();
    try {
      const child = spawnCli(['login', '--device', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
      const [, uri, code] = await waitForStderr(child, /open (\S+) and enter the code: (\S+)/);
      const complete = `${uri}?user_code=${encodeURIComponent(code!)}`;
      const shot = join(home, 'device-approved.png');
      const text = await approveDeviceInChromium(complete, { screenshot: shot });
      keepScreenshot(shot);
      expect(text.toLowerCase()).toContain('sign-in success');
      const res = await child.result;
      expect(res.code).toBe(0);
      expect(res.stderr).toContain('✓ Logged in');
    } finally {
      cleanup();
    }
  });
});
