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
import { appendFileSync } from 'node:fs';

const file = process.env.FAKE_BROWSER_LOG;
const mode = process.env.FAKE_BROWSER_MODE ?? 'follow';
/** @param {Record<string, unknown>} entry */
const log = (entry) => {
  if (file) appendFileSync(file, `${JSON.stringify(entry)}\n`);
};

const argv = process.argv.slice(2);
log({ argv });
/** @type {Record<string, unknown>} */
const result = {};
try {
  if (mode !== 'none') {
    const res = await fetch(argv[0] ?? '', { redirect: 'manual' });
    result.authorizeStatus = res.status;
    const location = res.headers.get('location');
    result.location = location;
    await res.arrayBuffer();
    if (location && mode === 'follow') {
      const cb = await fetch(location, { redirect: 'manual' });
      result.callbackStatus = cb.status;
      result.callbackHeaders = Object.fromEntries(cb.headers);
      result.callbackBody = await cb.text();
    }
  }
} catch (e) {
  result.error = String(/** @type {Error} */ (e).cause ?? e);
}
log(result);
