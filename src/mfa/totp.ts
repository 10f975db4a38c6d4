import { randomBytes } from 'node:crypto';
import { HOTP, Secret, TOTP, URI } from 'otpauth';
import { usageError } from '../errors.js';

/**
 * TOTP (RFC 6238) over `otpauth`: the library does the HMAC, dynamic
 * truncation and constant-time comparison; this file only chooses parameters,
 * validates input and decides which time steps may match.
 */
export const ALGORITHMS = ['SHA1', 'SHA224', 'SHA256', 'SHA384', 'SHA512', 'SHA3-224', 'SHA3-256', 'SHA3-384', 'SHA3-512'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export interface TotpParams {
  /** RFC 4648 base32, upper case, no padding. */
  secret: string;
  algorithm: Algorithm;
  digits: number;
  period: number;
}

/** docs/design.md §2: the settings every authenticator app accepts. */
export const ENROLMENT = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
/** docs/security.md R91 / RFC 4226 §4 R6: 160-bit secrets. */
const SECRET_BYTES = 20;
/** Imported secrets shorter than 80 bits are refused (RFC 4226 §4 asks for 128; some issuers still use 80). */
const MIN_IMPORT_BITS = 80;

export function generateSecret(): string {
  // Copy into a fresh ArrayBuffer: a Buffer may be a view into a larger pool.
  const bytes = new Uint8Array(randomBytes(SECRET_BYTES));
  return new Secret({ buffer: bytes.buffer }).base32;
}

function otp(p: TotpParams, label = 'auth'): TOTP {
  return new TOTP({ label, secret: Secret.fromBase32(p.secret), algorithm: p.algorithm, digits: p.digits, period: p.period });
}

/** The time step (RFC 6238 §4.2 T) at `now`; plain double arithmetic, no 32-bit overflow after 2038. */
export function stepAt(p: Pick<TotpParams, 'period'>, now: number): number {
  return TOTP.counter({ period: p.period, timestamp: now });
}

export function codeAt(p: TotpParams, now: number): string {
  return otp(p).generate({ timestamp: now });
}

/** Milliseconds until the code shown at `now` changes. */
export function remainingMs(p: TotpParams, now: number): number {
  return TOTP.remaining({ period: p.period, timestamp: now });
}

/**
 * The step among `steps` whose code equals `code`, or undefined. Each step is
 * checked with the library's constant-time comparison; the caller decides
 * which steps are allowed (±1 around now, after the last accepted one).
 */
export function matchStep(p: TotpParams, code: string, steps: number[]): number | undefined {
  // The library compares byte buffers; anything but ASCII digits of the right length cannot match.
  if (!/^\d+$/.test(code) || code.length !== p.digits) return undefined;
  const secret = Secret.fromBase32(p.secret);
  let found: number | undefined;
  for (const counter of steps) {
    const delta = HOTP.validate({ token: code, secret, algorithm: p.algorithm, digits: p.digits, counter, window: 0 });
    if (delta === 0 && found === undefined) found = counter;
  }
  return found;
}

/**
 * The key URI of the enrolment QR code (Google Authenticator Key URI format),
 * in the shape `auth mfa enable` prints: `otpauth://totp/authcli:<account>?secret=…&issuer=authcli`.
 */
export function enrolmentUri(account: string, secret: string): string {
  const uri = `otpauth://totp/authcli:${encodeURIComponent(account)}?secret=${secret}&issuer=authcli&algorithm=${ENROLMENT.algorithm}&digits=${ENROLMENT.digits}&period=${ENROLMENT.period}`;
  // Round-trip through the library's parser so an authenticator app reads exactly these settings.
  const parsed = URI.parse(uri);
  if (!(parsed instanceof TOTP) || parsed.secret.base32 !== secret) throw new Error('enrolment URI does not round-trip');
  return uri;
}

/** Normalises and checks a base32 secret; throws a usage error (exit 2) naming the problem. */
export function parseBase32Secret(input: string): string {
  const s = input.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  if (s === '') throw usageError('The secret is empty.', 'Pass the base32 secret your provider shows (letters A–Z and digits 2–7).');
  if (!/^[A-Z2-7]+$/.test(s)) {
    throw usageError('The secret is not valid base32: only the letters A–Z and the digits 2–7 may appear.', 'Copy the secret exactly as your provider shows it, or use --uri with the otpauth:// link.');
  }
  // RFC 4648 §6: a final quantum leaves 2, 4, 5 or 7 characters; 1, 3 or 6 cannot occur.
  if ([1, 3, 6].includes(s.length % 8)) throw usageError('The secret is not valid base32: its length is impossible for base32 (a character is missing or extra).');
  const bits = Math.floor((s.length * 5) / 8) * 8;
  if (bits < MIN_IMPORT_BITS) throw usageError(`The secret is too short (${bits} bits; at least ${MIN_IMPORT_BITS} are needed).`);
  return Secret.fromBase32(s).base32;
}

export function checkParams(algorithm: string, digits: number, period: number): { algorithm: Algorithm; digits: number; period: number } {
  const alg = algorithm.toUpperCase().replace(/^SHA-(\d)/, 'SHA$1');
  if (!(ALGORITHMS as readonly string[]).includes(alg)) throw usageError(`Unsupported algorithm "${algorithm}": use one of ${ALGORITHMS.join(', ')}.`);
  if (!Number.isInteger(digits) || digits < 4 || digits > 10) throw usageError(`The number of digits must be a whole number from 4 to 10 (got ${digits}).`);
  if (!Number.isInteger(period) || period < 1 || period > 3600) throw usageError(`The period must be a whole number of seconds from 1 to 3600 (got ${period}).`);
  return { algorithm: alg as Algorithm, digits, period };
}

export interface ParsedUri extends TotpParams {
  issuer: string;
  label: string;
}

/** Parses an `otpauth://totp/…` URI (exit 2 with the reason when malformed); honours algorithm, digits and period. */
export function parseTotpUri(input: string): ParsedUri {
  const text = input.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError('The URI is malformed: it is not a URL.', 'Pass the otpauth://totp/… link from your provider (quote it in the shell), or `--uri -` to read it from stdin.');
  }
  if (url.protocol !== 'otpauth:') throw usageError(`The URI must start with otpauth:// (got ${url.protocol}//).`);
  if (url.host === 'hotp') throw usageError('Counter-based (HOTP) URIs are not supported; only otpauth://totp/ URIs are.');
  if (url.host !== 'totp') throw usageError('The URI must be an otpauth://totp/ URI.');
  const rawSecret = url.searchParams.get('secret');
  if (!rawSecret) throw usageError('The URI has no secret parameter.');
  const secret = parseBase32Secret(rawSecret);
  const digitsText = url.searchParams.get('digits');
  const periodText = url.searchParams.get('period');
  if (digitsText !== null && !/^\d+$/.test(digitsText)) throw usageError('The URI\'s digits parameter is not a number.');
  if (periodText !== null && !/^\d+$/.test(periodText)) throw usageError('The URI\'s period parameter is not a number.');
  const params = checkParams(url.searchParams.get('algorithm') ?? 'SHA1', digitsText === null ? 6 : Number(digitsText), periodText === null ? 30 : Number(periodText));
  let parsed: TOTP;
  try {
    const o = URI.parse(text);
    if (!(o instanceof TOTP)) throw new Error('not TOTP');
    parsed = o;
  } catch (e) {
    // The library's messages name a parameter, never its value.
    throw usageError(`The URI is malformed: ${(e as Error).message.replace(/\.?$/, '')}.`);
  }
  if (parsed.algorithm !== params.algorithm || parsed.digits !== params.digits || parsed.period !== params.period || parsed.secret.base32 !== secret) {
    throw usageError('The URI is malformed: its parameters are ambiguous.');
  }
  return { secret, ...params, issuer: parsed.issuer, label: parsed.label };
}
