#!/usr/bin/env node
// @ts-check
// AUTH_BROWSER for the Chromium tests: `auth login` runs this with the authorization
// URL as its only argument; it signs in with real headless Chromium and records the
// callback page (text and screenshot) for the test to check.
import { appendFileSync } from 'node:fs';
import { completeInChromium } from './chromium-lib.mjs';

const url = process.argv[2];
const log = process.env.CHROMIUM_LOG;
try {
  if (!url || process.argv.length !== 3) throw new Error(`expected exactly one argument, got ${process.argv.length - 2}`);
  const action = process.env.SANDBOX_ACTION === 'deny' ? 'deny' : 'approve';
  const screenshot = process.env.CHROMIUM_SCREENSHOT;
  const result = await completeInChromium(url, { action, ...(screenshot ? { screenshot } : {}) });
  if (log) appendFileSync(log, `${JSON.stringify({ argv: process.argv.slice(2), ...result })}\n`);
} catch (e) {
  if (log) appendFileSync(log, `${JSON.stringify({ error: String(/** @type {Error} */ (e).message) })}\n`);
  process.stderr.write(`chromium-browser: ${/** @type {Error} */ (e).message}\n`);
  process.exit(1);
}
