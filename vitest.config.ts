import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Two tiers (docs/architecture.md "Tests"): `unit` runs domain/ and app/ in process with fake
// ports (npm run test:unit); `acceptance` drives the built CLI as a child process against a
// real oidc-provider, a real Secret Service and Chromium.

/** Acceptance files that use the keychain library in the test process itself (and point process.env at a private bus). */
const IN_PROCESS_KEYCHAIN = ['test/store-contract.test.ts', 'test/store-keychain.test.ts', 'test/store-keychain-chunks.test.ts'];
const acceptance = {
  setupFiles: ['test/support/setup-relay.ts'],
  // Generous: the suite must pass on a loaded machine, even beside another `npm test`.
  testTimeout: 180_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
};

/**
 * The acceptance files longest first, as measured (2026-12-04: a quiet run of the whole suite; most
 * of a file's time is a long series of CLI runs or real protocol intervals). Four workers share
 * two cores, so the run ends when the last long file does. vitest orders by the durations of the
 * previous run, but a fresh clone (CI) has none: vitest then orders by file size, and a 20-second
 * file started last leaves the other workers idle meanwhile. Files not listed (under 5 s) keep
 * vitest's order, after these.
 */
const LONGEST_FIRST = [
  'test/agent.test.ts',
  'test/token-differential.test.ts',
  'test/device.test.ts',
  'test/lifecycle-stores.test.ts',
  'test/sessions.test.ts',
  'test/store-keychain.test.ts',
  'test/mfa.test.ts',
  'test/store-keychain-chunks.test.ts',
  'test/security-config.test.ts',
  'test/lifecycle.test.ts',
  'test/setup.test.ts',
  'test/store-files.test.ts',
  'test/sessions-keychain.test.ts',
  'test/chromium.test.ts',
  'test/agent-ssh.test.ts',
  'test/session-end.test.ts',
  'test/security-misc.test.ts',
  'test/security-callback.test.ts',
  'test/hostile-values.test.ts',
  'test/github.test.ts',
  'test/id-token-freshness.test.ts',
  'test/papercuts.test.ts',
  'test/mfa-authenticator.test.ts',
  'test/real-servers.test.ts',
  'test/hygiene.test.ts',
  'test/retries.test.ts',
  'test/outage.test.ts',
  'test/security-token.test.ts',
  'test/security-revocation.test.ts',
  'test/security-authz.test.ts',
  'test/fast-path.test.ts',
  'test/security-idtoken.test.ts',
  'test/login.test.ts',
  'test/exec.test.ts',
  'test/network.test.ts',
  'test/mfa-tty.test.ts',
  'test/git.test.ts',
  'test/client-credentials.test.ts',
  'test/completion.test.ts',
  'test/with-token.test.ts',
  'test/mfa-vault.test.ts',
  'test/profiles.test.ts',
  'test/mfa-keychain.test.ts',
  'test/store-contract.test.ts',
];

// A renamed or removed file must leave this list too, or it would silently order nothing.
for (const file of LONGEST_FIRST) if (!existsSync(join(import.meta.dirname, file))) throw new Error(`vitest.config.ts: LONGEST_FIRST names ${file}, which does not exist`);

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.indexOf(relative(f.project.config.root, f.moduleId));
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    reporters: ['default'],
    // Four files at once on a 2-core machine: every test starts the CLI, and the extra workers fill
    // the gaps while others wait on real protocol intervals (device polls, lock waits, sleeps).
    // Measured 2026-12-04 on one quiet machine: 3 workers 233 s, 4 205 s, 5 205 s; on a slower
    // day, when the CPU was saturated anyway, 3 and 4 took the same.
    maxWorkers: 4,
    sequence: { sequencer: LongestFirst },
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 } },
      // The test files drive child processes and share no state through modules, so a worker runs
      // one file after another without reloading vitest, the sandbox provider and the support code.
      { test: { name: 'acceptance', include: ['test/*.test.ts'], exclude: IN_PROCESS_KEYCHAIN, isolate: false, ...acceptance } },
      { test: { name: 'acceptance-isolated', include: IN_PROCESS_KEYCHAIN, ...acceptance } },
    ],
  },
});
