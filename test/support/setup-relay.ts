import { afterAll } from 'vitest';
import { startBrowserRelay, useRelay } from './browser-relay.js';

// One browser relay per acceptance test file (test/support/browser-relay.ts).
const relay = await startBrowserRelay();
useRelay(relay);
afterAll(async () => {
  useRelay(undefined);
  await relay?.close();
});
