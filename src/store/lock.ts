import { closeSync, constants, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AuthError } from '../errors.js';
import { ensurePrivateDir } from './fs-safe.js';

/**
 * Per-profile cross-process lock (DESIGN §5, SECURITY R57): an O_EXCL lock
 * file holding the owner's pid. A lock whose owner died (or that is older than
 * STALE_MS) is broken; waiting is bounded.
 */
const STALE_MS = 30_000;
const WAIT_MS = 45_000;
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export interface Lock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(text: string, mtimeMs: number, now: number): boolean {
  try {
    const owner = JSON.parse(text) as { pid?: number; host?: string };
    if (owner.host === hostname() && typeof owner.pid === 'number' && !alive(owner.pid)) return true;
  } catch {
    // An empty or torn lock file: its writer died between create and write, or is writing now.
    return now - mtimeMs > 2_000;
  }
  return now - mtimeMs > STALE_MS;
}

export async function acquireLock(dir: string, name: string, signal?: AbortSignal): Promise<Lock> {
  ensurePrivateDir(dir);
  const path = join(dir, `${name}.lock`);
  const me = JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() });
  const deadline = Date.now() + WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
      writeSync(fd, me);
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(path, 'utf8') === me) unlinkSync(path);
          } catch { /* already broken by someone else */ }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AuthError('AUTH_STORAGE', `Cannot create the lock file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
      }
    }
    breakIfStale(path);
    if (Date.now() > deadline) {
      throw new AuthError('AUTH_STORAGE', `Timed out waiting for another auth process to finish with profile ${name} (lock ${path}).`, {
        hint: 'If no other auth process is running, delete the lock file and try again.',
      });
    }
    if (signal?.aborted) throw signal.reason;
    await new Promise((r) => setTimeout(r, Math.min(10 + attempt * 5, 50) + Math.random() * 20));
  }
}

function breakIfStale(path: string): void {
  let text: string;
  let mtimeMs: number;
  try {
    text = readFileSync(path, 'utf8');
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    return;
  }
  if (!isStale(text, mtimeMs, Date.now())) return;
  // Move the stale lock aside atomically; if what we moved is not what we judged
  // stale (another process replaced it meanwhile), put it back.
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  try {
    if (readFileSync(aside, 'utf8') !== text) {
      try { linkSync(aside, path); } catch { /* a newer lock exists already */ }
    }
  } finally {
    try { unlinkSync(aside); } catch { /* gone */ }
  }
}
