#!/usr/bin/env node
// @ts-check
/**
 * Test "browser" for the fake authorization server (test/support/fake-as.ts),
 * used as AUTH_BROWSER. The CLI runs it with the authorization URL as its
 * single argument. It records its argv at once, GETs the URL, follows the
 * fake AS's 302 to the loopback callback, records what the callback answered,
 * and exits.
 *
 * Environment:
 * - FAKE_BROWSER_LOG   append JSON lines: `{"argv":[...]}` at start, then
 *                      `{"authorizeStatus","location","callbackStatus","callbackHeaders","callbackBody","error"}`
 * - FAKE_BROWSER_MODE  `follow` (default); `authorize` = GET the URL but do not
 *                      follow the redirect (the test sends callbacks itself);
 *                      `none` = only record argv.
 */
import { runFakeBrowser } from './fake-browser-lib.mjs';

await runFakeBrowser(process.argv.slice(2), { log: process.env.FAKE_BROWSER_LOG, mode: process.env.FAKE_BROWSER_MODE ?? 'follow' });
