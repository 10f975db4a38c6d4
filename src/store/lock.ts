import { closeSync, constants, fstatSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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

/** The lock file's text, never through a symlink (SECURITY R76); undefined when it is gone. */
function readLock(path: string): { text: string; mtimeMs: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new AuthError('AUTH_STORAGE', `Refusing to use the lock file ${path}: it is a symbolic link.`, { hint: 'Remove it; auth never creates one.' });
    throw new AuthError('AUTH_STORAGE', `Cannot read the lock file ${path}: ${code ?? (e as Error).message}.`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AuthError('AUTH_STORAGE', `Refusing to use the lock file ${path}: it is not a regular file.`);
    return { text: readFileSync(fd, 'utf8'), mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
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
            if (readLock(path)?.text === me) unlinkSync(path);
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
  const lock = readLock(path);
  if (!lock) return;
  const { text, mtimeMs } = lock;
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
    if (readLock(aside)?.text !== text) {
      try { linkSync(aside, path); } catch { /* a newer lock exists already */ }
    }
  } finally {
    try { unlinkSync(aside); } catch { /* gone */ }
  }
}
