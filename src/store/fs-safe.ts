import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, chmodSync, readdirSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AuthError } from '../errors.js';

/**
 * File primitives for everything we persist (SECURITY R74–R77): user-only
 * modes regardless of umask, no symlink following, atomic replace.
 */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const isWindows = process.platform === 'win32';

function storageError(message: string): AuthError {
  return new AuthError('AUTH_STORAGE', message);
}

/** Options for the credential stores: R75 checks on read, and where to say that a mode was tightened. */
export interface PrivateFileOptions {
  /** Check the file and its directory before reading (owner, mode; SECURITY R75). */
  private?: boolean;
  /** Called with a user-facing line when a group/world-accessible dir or file was tightened. */
  warn?: (message: string) => void;
}

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');
const uid = () => (typeof process.getuid === 'function' ? process.getuid() : undefined);

/** SECURITY R75: refuse a store dir that is a symlink or belongs to another uid; tighten one that others can access. */
function checkDir(dir: string, st: Stats, warn?: (message: string) => void): void {
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw storageError(`Refusing to use ${dir}: it is a symbolic link or not a directory.`);
  }
  if (isWindows) return;
  const me = uid();
  if (me !== undefined && st.uid !== me) {
    throw storageError(`Refusing to use ${dir}: it belongs to another user (uid ${st.uid}), so it could read or replace your credentials.`);
  }
  if ((st.mode & 0o077) !== 0) {
    chmodSync(dir, 0o700);
    warn?.(`${dir} was accessible to other users (mode ${octal(st.mode)}); restored it to 0700.`);
  }
}

export function ensurePrivateDir(dir: string, warn?: (message: string) => void): void {
  // A umask only removes bits, so a directory created here is at most 0700 (SECURITY R74);
  // one that already existed is checked and, if others can reach it, tightened (R75).
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkDir(dir, lstatSync(dir), warn);
}

/**
 * Reads a file without following a symlink; undefined when it does not exist.
 * With `private`, the file and its directory must belong to this user and are
 * tightened to 0600/0700 when others can access them (SECURITY R75).
 */
export function readPrivateFile(file: string, opts: PrivateFileOptions = {}): Buffer | undefined {
  if (opts.private) {
    const dir = dirname(file);
    let st: Stats | undefined;
    try {
      st = lstatSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storageError(`Cannot read ${dir}: ${(e as Error).message}`);
    }
    checkDir(dir, st, opts.warn);
  }
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not block the read.
    fd = openSync(file, constants.O_RDONLY | NOFOLLOW | (opts.private && !isWindows ? constants.O_NONBLOCK : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw storageError(`Refusing to read ${file}: it is a symbolic link.`);
    throw storageError(`Cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    if (opts.private && !isWindows) {
      const st = fstatSync(fd);
      if (!st.isFile()) throw storageError(`Refusing to read ${file}: it is not a regular file.`);
      const me = uid();
      if (me !== undefined && st.uid !== me) throw storageError(`Refusing to read ${file}: it belongs to another user (uid ${st.uid}).`);
      if ((st.mode & 0o077) !== 0) {
        fchmodSync(fd, 0o600);
        opts.warn?.(`${file} was accessible to other users (mode ${octal(st.mode)}); restored it to 0600.`);
      }
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** temp file in the same directory (O_EXCL, 0600) → fsync → rename → fsync dir. */
/**
 * rename(2) replaces atomically on POSIX. On Windows (MoveFileEx with
 * REPLACE_EXISTING) it fails with EPERM/EACCES/EBUSY while another program —
 * an antivirus scanner, a backup or indexing service — briefly holds the target
 * open without delete sharing; retry for up to about a second, as graceful-fs does.
 */
function renameReplacing(from: string, to: string): void {
  const deadline = Date.now() + 1000;
  for (let wait = 10; ; wait = Math.min(wait * 2, 100)) {
    try {
      renameSync(from, to);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!isWindows || !(code === 'EPERM' || code === 'EACCES' || code === 'EBUSY') || Date.now() > deadline) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    }
  }
}

export function writePrivateFileAtomic(file: string, data: string | Buffer, opts: PrivateFileOptions = {}): void {
  const dir = dirname(file);
  ensurePrivateDir(dir, opts.warn);
  try {
    if (lstatSync(file).isSymbolicLink()) throw storageError(`Refusing to write ${file}: it is a symbolic link.`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const temp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
  try {
    if (!isWindows) fchmodSync(fd, 0o600);
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(temp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  try {
    renameReplacing(temp, file);
  } catch (e) {
    try { unlinkSync(temp); } catch { /* already gone */ }
    throw e;
  }
  if (!isWindows) {
    try {
      const dfd = openSync(dir, constants.O_RDONLY);
      try { fsyncSync(dfd); } finally { closeSync(dfd); }
    } catch { /* some filesystems refuse fsync on a directory */ }
  }
}

export function removeFile(file: string): boolean {
  try {
    unlinkSync(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw storageError(`Cannot remove ${file}: ${(e as Error).message}`);
  }
}

/** Removes temp files left behind by a process killed mid-write (older than a minute). */
export function sweepStaleTemps(dir: string, now: number): void {
  let names: string[];
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names) {
    if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
    try {
      const st = lstatSync(join(dir, name));
      if (now - st.mtimeMs > 60_000) unlinkSync(join(dir, name));
    } catch { /* raced with another process */ }
  }
}
