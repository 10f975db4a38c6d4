import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { endianness } from 'node:os';

/**
 * Who is on the other end of a loopback TCP connection (README, "Storage and
 * security model", shared hosts). On Linux the kernel lists every TCP socket of this network
 * namespace in /proc/net/tcp and /proc/net/tcp6 with its owner's uid; the
 * peer's socket is the row whose local address is our remote address and whose
 * remote address is our local one.
 *
 * - `same`: the peer runs as this user (or as root, who can read this process
 *   anyway);
 * - `other`: the peer runs as someone else, or its socket has no owner left
 *   (an orphaned socket of a process that already exited);
 * - `unknown`: no such table on this platform, or the table does not even list
 *   our own end of the connection (a sandbox that fakes /proc): the caller
 *   accepts the connection, as on macOS and Windows.
 */
export type PeerOwner = 'same' | 'other' | 'unknown';

export interface Endpoints {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

interface Row { local: string; localPort: number; remote: string; remotePort: number; uid: number; inode: number }

const LITTLE_ENDIAN = endianness() === 'LE';

/** One 32-bit word of a /proc/net address, printed in host byte order, as 4 bytes in network order. */
function wordBytes(hex: string): number[] {
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return LITTLE_ENDIAN ? bytes.reverse() : bytes;
}

/** A /proc/net/tcp{,6} address as a comparable string: dotted IPv4 (also for v4-mapped v6) or 8 hex groups. */
function decodeAddress(hex: string): string {
  if (hex.length === 8) return wordBytes(hex).join('.');
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
  const v4mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (v4mapped) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

/** The same comparable form for an address Node reports. */
function normalise(address: string): string {
  const a = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (isIPv4(a)) return a;
  // Expand "::" so both sides compare as 8 groups without leading zeros.
  const [head = '', tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = a.includes('::') ? (tail ? tail.split(':') : []) : [];
  const fill = a.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => Number.parseInt(g, 16).toString(16)).join(':');
}

function parse(table: string): Row[] {
  const rows: Row[] = [];
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [la, lp] = f[1]!.split(':');
    const [ra, rp] = f[2]!.split(':');
    if (!la || !lp || !ra || !rp) continue;
    rows.push({
      local: decodeAddress(la), localPort: Number.parseInt(lp, 16),
      remote: decodeAddress(ra), remotePort: Number.parseInt(rp, 16),
      uid: Number(f[7]), inode: Number(f[9]),
    });
  }
  return rows;
}

async function readTables(): Promise<Row[] | undefined> {
  const tables = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((p) => readFile(p, 'utf8').catch(() => undefined)));
  if (tables.every((t) => t === undefined)) return undefined;
  return tables.flatMap((t) => (t === undefined ? [] : parse(t)));
}

export async function peerOwner(conn: Endpoints, uid: number | undefined = process.getuid?.()): Promise<PeerOwner> {
  if (process.platform !== 'linux' || uid === undefined) return 'unknown';
  const rows = await readTables();
  if (!rows) return 'unknown';
  const local = normalise(conn.localAddress);
  const remote = normalise(conn.remoteAddress);
  const ours = rows.some((r) => r.localPort === conn.localPort && r.remotePort === conn.remotePort && r.local === local && r.remote === remote);
  if (!ours) return 'unknown';
  const peer = rows.find((r) => r.localPort === conn.remotePort && r.remotePort === conn.localPort && r.local === remote && r.remote === local);
  if (!peer || peer.inode === 0) return 'other';
  return peer.uid === uid || peer.uid === 0 ? 'same' : 'other';
}
