import { closeSync, constants, fstatSync, futimesSync, linkSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AuthError } from '../errors.js';
import { ensurePrivateDir, noSpaceError } from './fs-safe.js';

/**
 * Per-profile cross-process lock (docs/architecture.md "Locking"): an O_EXCL
 * lock file naming its holder — pid, host, the process's start time — that
 * the holder touches every HEARTBEAT_MS while it holds it.
 *
 * The rule that keeps sessions: a lock whose holder is alive on this host is
 * never broken, however long it has been held (discovery, a slow token
 * endpoint and a keychain write can together take minutes). Only a holder
 * that is gone is taken over:
 * - same host: its pid is dead, or now belongs to a process that started at
 *   another time (pid reuse);
 * - another host (a home directory shared over NFS) or a holder we cannot
 *   identify: its heartbeat stopped — the file stayed unchanged for
 *   NO_HEARTBEAT_MS *as this waiter observed it*. Time is measured on the
 *   waiter's own clock, so a lock file with an mtime in the future (clock skew,
 *   `touch -d`) cannot block forever;
 * - an empty lock file (its writer died between create and write) after
 *   TORN_MS unchanged.
 * A holder checks `held()` before it writes what it did under the lock: if the
 * lock was taken over meanwhile, it must not overwrite a newer credential.
 */
const HEARTBEAT_MS = 2_000;
const NO_HEARTBEAT_MS = 20_000;
const TORN_MS = 2_000;
/** Waiting on a live holder is not endless: after this, give up (nothing is broken or changed). */
const MAX_WAIT_MS = 10 * 60_000;
/** When to tell the user what we are waiting for. */
const NOTICE_AFTER_MS = 5_000;
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export interface Lock {
  /** Removes the lock file if it is still ours; idempotent. */
  release(): void;
  /** Whether the lock file is still the one we created (not taken over by another process). */
  held(): boolean;
}

export interface LockOptions {
  signal?: AbortSignal | undefined;
  /** Called once when the wait has lasted a few seconds; `holder` is its pid when it runs on this host. */
  onWaiting?: ((holder: number | undefined) => void) | undefined;
}

interface Owner {
  pid: number;
  host: string;
  /** The process's start time (Linux: /proc/<pid>/stat field 22), to tell a reused pid. */
  start?: string;
  at: number;
  id: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Start time of a process in clock ticks since boot (Linux); undefined elsewhere or when it is gone. */
function startTime(pid: number | 'self'): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The lock file's text, never through a symlink (a planted link must not steer us; see store/fs-safe.ts); undefined when it is gone. */
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

function parseOwner(text: string): Partial<Owner> | undefined {
  try {
    const owner = JSON.parse(text) as Partial<Owner>;
    return owner && typeof owner === 'object' ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** What a waiter concludes about the current lock file. */
type Verdict = { stale: true } | { stale: false; holder?: number };

/** Tracks how long the waiter has seen the same lock file unchanged (its own clock, never the file's mtime). */
class Observer {
  private key = '';
  private since = 0;
  unchangedFor(text: string, mtimeMs: number, now: number): number {
    const key = `${mtimeMs}\n${text}`;
    if (key !== this.key) {
      this.key = key;
      this.since = now;
    }
    return now - this.since;
  }
}

function judge(text: string, mtimeMs: number, observer: Observer, now: number): Verdict {
  const unchanged = observer.unchangedFor(text, mtimeMs, now);
  const owner = parseOwner(text);
  if (!owner) return unchanged > TORN_MS ? { stale: true } : { stale: false };
  if (owner.host === hostname() && typeof owner.pid === 'number') {
    if (!alive(owner.pid)) return { stale: true };
    const start = owner.start === undefined ? undefined : startTime(owner.pid);
    if (start !== undefined && start !== owner.start) return { stale: true };
    return { stale: false, holder: owner.pid };
  }
  return unchanged > NO_HEARTBEAT_MS ? { stale: true } : { stale: false };
}

export async function acquireLock(dir: string, name: string, options: LockOptions | AbortSignal = {}): Promise<Lock> {
  const opts: LockOptions = options instanceof AbortSignal ? { signal: options } : options;
  ensurePrivateDir(dir);
  const path = join(dir, `${name}.lock`);
  const started = Date.now();
  const observer = new Observer();
  let noticed = false;
  for (let attempt = 0; ; attempt++) {
    const lock = tryCreate(path, dir);
    if (lock) return lock;
    const current = readLock(path);
    if (current) {
      const verdict = judge(current.text, current.mtimeMs, observer, Date.now());
      if (verdict.stale) {
        breakStale(path, current.text);
        continue;
      }
      if (!noticed && Date.now() - started > NOTICE_AFTER_MS) {
        noticed = true;
        opts.onWaiting?.(verdict.holder);
      }
    }
    if (Date.now() - started > MAX_WAIT_MS) {
      throw new AuthError('AUTH_STORAGE', `Gave up after ${MAX_WAIT_MS / 60_000} minutes waiting for another auth process to finish with ${name} (lock ${path}); nothing was changed.`, {
        hint: 'That process is still running (see `ps`); let it finish or end it, then try again.',
      });
    }
    if (opts.signal?.aborted) throw opts.signal.reason;
    await new Promise((r) => setTimeout(r, Math.min(10 + attempt * 5, 100) + Math.random() * 20));
  }
}

/** Creates the lock file, or undefined when another process holds it. */
function tryCreate(path: string, dir: string): Lock | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return undefined;
    if (code === 'ENOSPC') throw noSpaceError(dir);
    throw new AuthError('AUTH_STORAGE', `Cannot create the lock file ${path}: ${code ?? (e as Error).message}.`);
  }
  const owner: Owner = { pid: process.pid, host: hostname(), at: Date.now(), id: randomBytes(8).toString('hex') };
  const start = startTime('self');
  if (start !== undefined) owner.start = start;
  try {
    writeSync(fd, JSON.stringify(owner));
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(path); } catch { /* gone */ }
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw noSpaceError(dir);
    throw new AuthError('AUTH_STORAGE', `Cannot write the lock file ${path}: ${(e as Error).message}.`);
  }
  const { ino, dev } = fstatSync(fd);
  const held = (): boolean => {
    try {
      const st = lstatSync(path);
      return st.ino === ino && st.dev === dev;
    } catch {
      return false;
    }
  };
  // The heartbeat: waiters on other hosts see the mtime move while we live.
  const beat = setInterval(() => {
    try {
      const now = new Date();
      futimesSync(fd, now, now);
    } catch { /* the fd is ours until release; nothing useful to do on failure */ }
  }, HEARTBEAT_MS);
  beat.unref();
  let released = false;
  return {
    held,
    release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      try {
        if (held()) unlinkSync(path);
      } catch { /* already taken over by someone else */ }
      closeSync(fd);
    },
  };
}

/**
 * Moves the stale lock aside atomically; if what we moved is not what we judged
 * stale (another process replaced it meanwhile), puts it back.
 */
function breakStale(path: string, text: string): void {
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
