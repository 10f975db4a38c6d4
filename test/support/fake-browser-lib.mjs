// @ts-check
/**
 * What test/support/fake-browser.mjs does, as a function: also run in the test process by
 * the browser relay (test/support/browser-relay.ts).
 */
import { appendFileSync } from 'node:fs';

/**
 * Records argv, GETs the authorization URL, follows the fake AS's 302 to the loopback callback
 * (mode `follow`), records what the callback answered.
 * @param {string[]} argv what the CLI passed (the URL)
 * @param {{ log?: string, mode?: string }} options
 */
export async function runFakeBrowser(argv, { log: file, mode = 'follow' }) {
  /** @param {Record<string, unknown>} entry */
  const log = (entry) => {
    if (file) appendFileSync(file, `${JSON.stringify(entry)}\n`);
  };
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
}
