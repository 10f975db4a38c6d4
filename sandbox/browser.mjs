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

import { runScriptedBrowser } from './browser-lib.mjs';

// Exit explicitly: fetch keeps idle keep-alive sockets that would delay a natural exit.
runScriptedBrowser(process.argv.slice(2), process.env, (line) => process.stderr.write(line)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`sandbox browser: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
