import { existsSync } from 'node:fs';

/**
 * Tests that need a system component (Chromium, a Secret Service) skip with a
 * visible reason when it is missing — unless AUTH_REQUIRE_SYSTEM=1 (set by
 * .ci/run), which turns the skip into a failure.
 */
export interface SystemRequirement {
  /** true: skip the tests (component missing, not required). */
  skip: boolean;
  /** Call at the start of each test: throws when the component is required but missing. */
  assertAvailable(): void;
}

export function requireSystem(component: string, available: boolean, reason: string): SystemRequirement {
  const required = process.env.AUTH_REQUIRE_SYSTEM === '1';
  if (!available && !required) {
    process.stderr.write(`[skip] ${component} tests skipped: ${reason}. Install it (see .ci/run) or set AUTH_REQUIRE_SYSTEM=1 to make this a failure.\n`);
  }
  return {
    skip: !available && !required,
    assertAvailable() {
      if (!available) throw new Error(`${component} is required (AUTH_REQUIRE_SYSTEM=1) but missing: ${reason}`);
    },
  };
}

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = () => existsSync(CHROMIUM_PATH);
