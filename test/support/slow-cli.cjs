// The full CLI without bin/auth.js and its `auth token` fast path: what
// bin/auth.js falls back to. Fast-path tests compare the two byte for byte.
'use strict';
require('../../dist/main.cjs')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
