// @ts-check
/**
 * Drives real headless Chromium (Debian's /usr/bin/chromium) with playwright-core
 * through the sandbox provider's real sign-in, consent and device pages.
 */
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** @param {(page: import('playwright-core').Page) => Promise<void>} work */
export async function withChromium(work) {
  const profile = mkdtempSync(join(tmpdir(), 'auth-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 900, height: 700 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    // The provider's dev pages import a web font; this machine has no internet.
    await page.route(/fonts\.googleapis\.com/, (route) => route.abort());
    await work(page);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * On the provider's login page: type the test user, submit; then approve (or cancel) consent.
 * @param {import('playwright-core').Page} page
 * @param {{ login?: string, action?: 'approve' | 'deny' }} [opts]
 */
export async function signIn(page, opts = {}) {
  if (opts.action === 'deny') {
    await page.getByText('[ Cancel ]').click();
    return;
  }
  await page.locator('input[name=login]').fill(opts.login ?? 'alice');
  await page.locator('input[name=password]').fill('sandbox');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

/**
 * Browser flow: open the authorization URL, sign in, land on the CLI's callback page.
 * @param {string} url
 * @param {{ login?: string, action?: 'approve' | 'deny', screenshot?: string }} [opts]
 * @returns {Promise<{ callbackUrl: string, text: string }>}
 */
export async function completeInChromium(url, opts = {}) {
  /** @type {{ callbackUrl: string, text: string }} */
  let result = { callbackUrl: '', text: '' };
  await withChromium(async (page) => {
    await page.goto(url);
    await signIn(page, opts);
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
    await page.waitForLoadState('load');
    await page.locator('h1').waitFor();
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot });
    result = { callbackUrl: page.url(), text: await page.locator('main').innerText() };
  });
  return result;
}

/**
 * Device flow: open verification_uri_complete, confirm the code, sign in, consent.
 * @param {string} verificationUriComplete
 * @param {{ login?: string, screenshot?: string }} [opts]
 * @returns {Promise<string>} the text of the final page
 */
export async function approveDeviceInChromium(verificationUriComplete, opts = {}) {
  let text = '';
  await withChromium(async (page) => {
    await page.goto(verificationUriComplete);
    await page.getByRole('button', { name: 'Continue' }).click();
    await signIn(page, opts);
    await page.waitForLoadState('load');
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot });
    text = await page.locator('body').innerText();
  });
  return text;
}
