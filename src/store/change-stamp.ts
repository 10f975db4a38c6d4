import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Paths } from '../config/paths.js';

/**
 * A per-profile change stamp (docs/design.md "auth agent"): every write or delete of a
 * profile's credential through a token store replaces `<state>/changes/<profile>` with a new
 * random value, so a running agent notices `auth login`, `logout` and `refresh` in other
 * processes — keychain-stored profiles included — by reading one small file. It holds no secret.
 */
const changeStampFile = (paths: Paths, profile: string) => join(paths.stateDir, 'changes', profile);

export function touchChangeStamp(paths: Paths, profile: string): void {
  try {
    const file = changeStampFile(paths, profile);
    mkdirSync(join(paths.stateDir, 'changes'), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${Date.now()}-${randomBytes(6).toString('hex')}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // Only an agent's cache depends on it, and an agent that misses it reloads on its next refresh.
  }
}

/** The current stamp ('' when none was ever written). */
export function readChangeStamp(paths: Paths, profile: string): string {
  try {
    return readFileSync(changeStampFile(paths, profile), 'utf8');
  } catch {
    return '';
  }
}
