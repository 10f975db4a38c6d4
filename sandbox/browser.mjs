#!/usr/bin/env node
// @ts-check
/**
 * Scripted "browser" for the sandbox provider, usable as `AUTH_BROWSER`:
 *
 *     AUTH_BROWSER=sandbox/browser.mjs auth login --issuer http://127.0.0.1:PORT --client-id auth-cli
 *
 * The CLI runs it with the authorization URL as its single argument. It signs in on
 * oidc-provider's development login page, consents, follows the provider's redirect to the
 * CLI's loopback callback, requests it, and exits 0. Nothing goes to stdout.
 *
 * Environment:
 * - `SANDBOX_LOGIN`            username to sign in as (default `alice`)
 * - `SANDBOX_ACTION=deny`      cancel the sign-in instead (callback gets `error=access_denied`)
 * - `SANDBOX_BROWSER_DELAY_MS` wait this long before starting
 * - `SANDBOX_BROWSER_LOG`      append one JSON line per run:
 *                              `{ argv, callbackUrl, callbackStatus, callbackBody, error? }`
 *
 * Exit status: 0 when the callback was requested (whatever it answered), 1 on any failure
 * (reason on stderr), 2 on bad usage.
 *
 * @module sandbox/browser
 */

import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { completeAuthorization } from './browser-lib.mjs';

const argv = process.argv.slice(2);

/** @param {Record<string, unknown>} entry */
function log(entry) {
  const file = process.env.SANDBOX_BROWSER_LOG;
  if (!file) return;
  try {
    appendFileSync(file, `${JSON.stringify({ argv, ...entry })}\n`);
  } catch (err) {
    process.stderr.write(`sandbox browser: cannot write ${file}: ${/** @type {Error} */ (err).message}\n`);
  }
}

async function main() {
  if (argv.length !== 1 || !/^https?:\/\//i.test(argv[0])) {
    process.stderr.write('usage: sandbox/browser.mjs <authorization URL>\n');
    log({ callbackUrl: null, callbackStatus: null, callbackBody: null, error: 'usage' });
    return 2;
  }
  const delay = Number(process.env.SANDBOX_BROWSER_DELAY_MS ?? 0);
  if (Number.isFinite(delay) && delay > 0) await sleep(delay);

  const action = (process.env.SANDBOX_ACTION ?? 'approve').toLowerCase();
  if (action !== 'approve' && action !== 'deny') {
    process.stderr.write(`sandbox browser: SANDBOX_ACTION must be approve or deny, got ${action}\n`);
    log({ callbackUrl: null, callbackStatus: null, callbackBody: null, error: `bad SANDBOX_ACTION ${action}` });
    return 2;
  }

  try {
    const result = await completeAuthorization(argv[0], {
      login: process.env.SANDBOX_LOGIN || 'alice',
      action,
    });
    log({ callbackUrl: result.callbackUrl, callbackStatus: result.status, callbackBody: result.body });
    return 0;
  } catch (err) {
    const message = /** @type {Error} */ (err)?.message ?? String(err);
    process.stderr.write(`sandbox browser: ${message}\n`);
    log({ callbackUrl: null, callbackStatus: null, callbackBody: null, error: message });
    return 1;
  }
}

// Exit explicitly: fetch keeps idle keep-alive sockets that would delay a natural exit.
main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`sandbox browser: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
