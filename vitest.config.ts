import { defineConfig } from 'vitest/config';

// Two tiers (docs/architecture.md "Tests"): `unit` runs domain/ and app/ in process with fake
// ports (npm run test:unit); `acceptance` drives the built CLI as a child process against a
// real oidc-provider, a real Secret Service and Chromium.
export default defineConfig({
  test: {
    reporters: ['default'],
    // The acceptance tests mostly wait on child processes and servers: more files at once than cores.
    maxWorkers: 3,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 } },
      { test: { name: 'acceptance', include: ['test/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000, pool: 'forks' } },
    ],
  },
});
