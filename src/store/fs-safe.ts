import { closeSync, constants, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, chmodSync, readdirSync } from 'node:fs';
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

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw storageError(`Refusing to use ${dir}: it is a symbolic link or not a directory.`);
  }
  if (isWindows) return;
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw storageError(`Refusing to use ${dir}: it belongs to another user (uid ${st.uid}).`);
  }
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** Reads a file without following a symlink; undefined when it does not exist. */
export function readPrivateFile(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw storageError(`Refusing to read ${file}: it is a symbolic link.`);
    throw storageError(`Cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** temp file in the same directory (O_EXCL, 0600) → fsync → rename → fsync dir. */
export function writePrivateFileAtomic(file: string, data: string | Buffer): void {
  const dir = dirname(file);
  ensurePrivateDir(dir);
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
    renameSync(temp, file);
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
