import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Backup codes (docs/design.md §2, docs/security.md R100): 10 codes of 10 lowercase base32
 * characters (50 bits from the CSPRNG) shown once as `abcde-fghij`; only salted
 * scrypt hashes are kept. 50 bits is under R100's 64, so every backup-code
 * attempt counts toward the R96 lockout.
 */
export const BACKUP_CODE_COUNT = 10;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const SCRYPT = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const HASH_BYTES = 32;

export interface BackupCodeSet {
  /** base64 salt shared by the set: one scrypt per attempt, whatever the number of codes. */
  salt: string;
  /** base64 scrypt hashes; a used code's slot becomes null. */
  hashes: (string | null)[];
  createdAt: number;
}

function newCode(): string {
  const bytes = randomBytes(7);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let out = '';
  // 50 of the 56 random bits, 5 per character.
  for (let i = 0; i < 10; i++) out += ALPHABET[Number((bits >> BigInt(5 * i)) & 31n)];
  return `${out.slice(0, 5)}-${out.slice(5)}`;
}

/** The canonical form a code is hashed in, or undefined when the input cannot be a backup code. */
function normalizeBackupCode(input: string): string | undefined {
  const s = input.replace(/[\s-]/g, '').toLowerCase();
  return /^[a-z2-7]{10}$/.test(s) ? s : undefined;
}

function hash(code: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(code, salt, HASH_BYTES, SCRYPT, (e, key) => (e ? reject(e) : resolve(key))));
}

export async function generateBackupCodes(now: number): Promise<{ codes: string[]; set: BackupCodeSet }> {
  const codes = new Set<string>();
  while (codes.size < BACKUP_CODE_COUNT) codes.add(newCode());
  const list = [...codes];
  const salt = randomBytes(16);
  const hashes = await Promise.all(list.map((c) => hash(normalizeBackupCode(c)!, salt)));
  return { codes: list, set: { salt: salt.toString('base64'), hashes: hashes.map((h) => h.toString('base64')), createdAt: now } };
}

/** Index of the unused code matching `input`, or undefined. Compares every slot in constant time. */
export async function findBackupCode(set: BackupCodeSet, input: string): Promise<number | undefined> {
  const code = normalizeBackupCode(input);
  if (!code) return undefined;
  const candidate = await hash(code, Buffer.from(set.salt, 'base64'));
  let found: number | undefined;
  set.hashes.forEach((stored, i) => {
    if (stored === null) return;
    const buf = Buffer.from(stored, 'base64');
    if (buf.length === candidate.length && timingSafeEqual(buf, candidate) && found === undefined) found = i;
  });
  return found;
}

export function remainingBackupCodes(set: BackupCodeSet | undefined): number {
  return set ? set.hashes.filter((h) => h !== null).length : 0;
}

export function isBackupCodeSet(v: unknown): v is BackupCodeSet {
  const o = v as BackupCodeSet;
  return Boolean(o) && typeof o.salt === 'string' && Array.isArray(o.hashes) && o.hashes.every((h) => h === null || typeof h === 'string') && typeof o.createdAt === 'number';
}
