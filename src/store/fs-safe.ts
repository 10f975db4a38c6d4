import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, chmodSync, readdirSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AuthError } from '../errors.js';

/**
 * File primitives for everything we persist (docs/security.md R74–R77): user-only
 * modes regardless of umask, no symlink following, atomic replace.
 */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const isWindows = process.platform === 'win32';

function storageError(message: string): AuthError {
  return new AuthError('AUTH_STORAGE', message);
}

/** The disk holding `dir` is full: said plainly, with what was (not) changed. */
export function noSpaceError(dir: string): AuthError {
  return new AuthError('AUTH_STORAGE', `No space left on the disk that holds ${dir}; nothing was changed.`, {
    hint: 'Free some space there (see `df -h`), then run the command again.',
  });
}

const isNoSpace = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'ENOSPC' || (e as NodeJS.ErrnoException)?.code === 'EDQUOT';

/** Options for the credential stores: R75 checks on read, and where to say that a mode was tightened. */
export interface PrivateFileOptions {
  /** Check the file and its directory before reading (owner, mode; docs/security.md R75). */
  private?: boolean;
  /** Called with a user-facing line when a group/world-accessible dir or file was tightened. */
  warn?: (message: string) => void;
}

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');
const uid = () => (typeof process.getuid === 'function' ? process.getuid() : undefined);

/** docs/security.md R75: refuse a store dir that is a symlink or belongs to another uid; tighten one that others can access. */
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
  // A umask only removes bits, so a directory created here is at most 0700 (docs/security.md R74);
  // one that already existed is checked and, if others can reach it, tightened (R75).
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkDir(dir, lstatSync(dir), warn);
}

/** Opens `file` for reading without following a symlink; undefined when it does not exist. */
function openNoFollow(file: string, nonBlocking: boolean): number | undefined {
  try {
    return openSync(file, constants.O_RDONLY | NOFOLLOW | (nonBlocking && !isWindows ? constants.O_NONBLOCK : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw storageError(`Refusing to read ${file}: it is a symbolic link.`);
    throw storageError(`Cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Reads a file without following a symlink; undefined when it does not exist.
 * With `private`, the file and its directory must belong to this user and are
 * tightened to 0600/0700 when others can access them (docs/security.md R75).
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
  // O_NONBLOCK: a FIFO planted at the path must not block the read.
  const fd = openNoFollow(file, Boolean(opts.private));
  if (fd === undefined) return undefined;
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

/**
 * Space set aside for a file's next atomic write: its temp file, already
 * written to `bytes` and fsynced. A refresh reserves before it sends the
 * request, so a full disk fails the refresh before the provider rotates the
 * refresh token (docs/architecture.md "Never lose a session"). The vault that
 * made it holds it (no process-wide table) and hands it to the one write that uses it.
 */
export interface WriteReservation {
  readonly file: string;
  readonly temp: string;
  readonly fd: number;
  readonly bytes: number;
}

function tempPathFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Reserves `bytes` for a later writePrivateFileAtomic(file, …, { reservation }); throws noSpaceError when the disk is full. */
export function reserveFileWrite(file: string, bytes: number, opts: PrivateFileOptions = {}): WriteReservation {
  const dir = dirname(file);
  ensurePrivateDir(dir, opts.warn);
  sweepStaleTemps(dir, Date.now());
  const temp = tempPathFor(file);
  let fd: number;
  try {
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
  } catch (e) {
    if (isNoSpace(e)) throw noSpaceError(dir);
    throw storageError(`Cannot create a file in ${dir}: ${(e as Error).message}`);
  }
  try {
    if (!isWindows) fchmodSync(fd, 0o600);
    // Real blocks, not a sparse file: write zeros (Node has no fallocate).
    const chunk = Buffer.alloc(Math.min(bytes, 64 * 1024));
    for (let off = 0; off < bytes; ) {
      const n = writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - off), off);
      if (n === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
      off += n;
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(temp); } catch { /* already gone */ }
    if (isNoSpace(e)) throw noSpaceError(dir);
    throw storageError(`Cannot write in ${dir}: ${(e as Error).message}`);
  }
  return { file, temp, fd, bytes };
}

/** Gives back an unused reservation (after a refresh that failed). */
export function releaseFileWrite(r: WriteReservation): void {
  try { closeSync(r.fd); } catch { /* closed */ }
  try { unlinkSync(r.temp); } catch { /* gone */ }
}

/** Writes `buf` into the reserved temp file; false when the reservation cannot be used (too small, or swept). */
function writeReserved(r: WriteReservation, buf: Buffer): boolean {
  if (buf.length > r.bytes) return false;
  try {
    lstatSync(r.temp);
  } catch {
    return false;
  }
  let off = 0;
  while (off < buf.length) off += writeSync(r.fd, buf, off, buf.length - off, off);
  ftruncateSync(r.fd, buf.length);
  fsyncSync(r.fd);
  return true;
}

/**
 * Reads a file that steers where secrets go — the config, its index, the discovery cache,
 * MFA state — only when no other user could have written it: not a symlink, a regular
 * file owned by this user, neither it nor its directory writable by group or others (else
 * another user on a shared host could point the next refresh at their own token endpoint).
 * Unlike readPrivateFile it tightens nothing: what another user may already have changed
 * is refused, with the `chmod` that fixes it in the hint. undefined when it does not exist.
 */
export function readTrustedFile(file: string, opts: { maxBytes?: number } = {}): Buffer | undefined {
  const untrusted = (what: string, why: string, fix: string) =>
    new AuthError('AUTH_STORAGE', `Refusing to read ${file}: ${what} ${why}, so another user could have changed it.`, { hint: `If that is not so, fix it with \`${fix}\` and try again.` });
  const me = uid();
  const dir = dirname(file);
  if (!isWindows) {
    let st: Stats;
    try {
      st = lstatSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storageError(`Cannot read ${dir}: ${(e as Error).message}`);
    }
    if (me !== undefined && st.uid !== me) throw untrusted(`its directory ${dir}`, `belongs to another user (uid ${st.uid})`, `chown $(id -u) ${dir}`);
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) throw untrusted(`its directory ${dir}`, `is writable by other users (mode ${octal(st.mode)})`, `chmod go-w ${dir}`);
  }
  const fd = openNoFollow(file, true);
  if (fd === undefined) return undefined;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw storageError(`Refusing to read ${file}: it is not a regular file.`);
    if (!isWindows) {
      if (me !== undefined && st.uid !== me) throw untrusted('it', `belongs to another user (uid ${st.uid})`, `chown $(id -u) ${file}`);
      if ((st.mode & 0o022) !== 0) throw untrusted('it', `is writable by other users (mode ${octal(st.mode)})`, `chmod go-w ${file}`);
    }
    if (opts.maxBytes !== undefined && st.size > opts.maxBytes) {
      throw storageError(`Refusing to read ${file}: it is ${st.size} bytes, more than the ${Math.round(opts.maxBytes / 1024)} KiB such a file can need.`);
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * temp file in the same directory (O_EXCL, 0600) → fsync → rename → fsync dir. With a
 * `reservation` for this file, its temp file is used (and consumed) when the data fits.
 */
export function writePrivateFileAtomic(file: string, data: string | Buffer, opts: PrivateFileOptions & { reservation?: WriteReservation; foreignDir?: boolean } = {}): void {
  const dir = dirname(file);
  // foreignDir: another tool's file (a kubeconfig): its directory is created private when missing
  // but otherwise left as its owner set it.
  if (opts.foreignDir) mkdirSync(dir, { recursive: true, mode: 0o700 });
  else ensurePrivateDir(dir, opts.warn);
  try {
    if (lstatSync(file).isSymbolicLink()) throw storageError(`Refusing to write ${file}: it is a symbolic link.`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  sweepStaleTemps(dir, Date.now());
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const reserved = opts.reservation?.file === file ? opts.reservation : undefined;
  let temp: string;
  let fd: number;
  if (reserved && writeReserved(reserved, buf)) {
    ({ temp, fd } = reserved);
  } else {
    if (reserved) {
      try { closeSync(reserved.fd); } catch { /* closed */ }
      try { unlinkSync(reserved.temp); } catch { /* gone */ }
    }
    temp = tempPathFor(file);
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
    try {
      if (!isWindows) fchmodSync(fd, 0o600);
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      try { unlinkSync(temp); } catch { /* already gone */ }
      if (isNoSpace(e)) throw new AuthError('AUTH_STORAGE', `No space left on the disk that holds ${dir}; ${file} was not written.`, { hint: 'Free some space there (see `df -h`), then run the command again.' });
      throw e;
    }
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

/**
 * Removes temp files left behind by a process killed mid-write (older than a
 * minute), before each write in that directory: one readdir of a small directory.
 * A reservation that a slow refresh still holds may be removed too, and its write
 * then falls back to a new temp file.
 */
function sweepStaleTemps(dir: string, now: number): void {
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
