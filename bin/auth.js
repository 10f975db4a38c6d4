#!/usr/bin/env node
'use strict';
// CommonJS on purpose: the ESM loader alone costs ~10% of `auth token` (docs/design.md §7).
require('../dist/auth.cjs').run(process.argv.slice(2));
