// Preloaded with NODE_OPTIONS=--require in fast-path tests: at exit, appends
// "fast" or "slow" to $AUTH_PROBE_OUT — whether the full CLI (dist/main.cjs)
// was loaded — so a test can tell which path answered without any switch in
// the product.
'use strict';
if (process.env.AUTH_PROBE_OUT) {
  process.on('exit', () => {
    const slow = Object.keys(require.cache).some((k) => /dist[\\/]main\.cjs$/.test(k));
    require('node:fs').appendFileSync(process.env.AUTH_PROBE_OUT, slow ? 'slow\n' : 'fast\n');
  });
}
