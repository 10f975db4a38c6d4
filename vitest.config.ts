import { defineConfig } from 'vitest/config';

// Two tiers (docs/architecture.md "Tests"): `unit` runs domain/ and app/ in process with fake
// ports (npm run test:unit); `acceptance` drives the built CLI as a child process against a
// real oidc-provider, a real Secret Service and Chromium.
export default defineConfig({
  test: {
    reporters: ['default'],
    // Three files at once on a 2-core machine: the suite is CPU-bound (every test starts the CLI), and
    // a third worker fills the gaps while others wait on real protocol intervals; four gain nothing.
    maxWorkers: 3,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 } },
      // Generous: the suite must pass on a loaded machine, even beside another `npm test`.
      { test: { name: 'acceptance', include: ['test/*.test.ts'], setupFiles: ['test/support/setup-relay.ts'], testTimeout: 180_000, hookTimeout: 120_000, pool: 'forks' } },
    ],
  },
});
