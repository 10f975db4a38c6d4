import { join } from 'node:path';
import type { StorageKind } from '../config/config.js';
import type { Deps } from '../deps.js';
import { AuthError, usageError } from '../errors.js';
import { acquireLock } from '../store/lock.js';
import { readPrivateFile, writePrivateFileAtomic } from '../store/fs-safe.js';
import { openSecretStore, secretStoreFor } from '../store/secrets.js';
import type { SecretBackend } from '../domain/mfa-state.js';
import { ALGORITHMS, type Algorithm, type TotpParams } from './totp.js';

/**
 * The terminal authenticator (docs/design.md §2 `auth mfa add|code|list|remove`).
 * Secrets go to the secret store (account `authenticator:<name>`); the index
 * `<state>/authenticator/index.json` holds only what `list` shows and where
 * each secret lives — never a secret.
 */
export interface AuthenticatorEntry {
  name: string;
  issuer: string;
  label: string;
  algorithm: Algorithm;
  digits: number;
  period: number;
  store: SecretBackend;
  addedAt: number;
}

interface Index {
  v: 1;
  entries: AuthenticatorEntry[];
}

const ENTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;
const account = (name: string) => `authenticator:${name}`;
const indexPath = (deps: Deps) => join(deps.paths.stateDir, 'authenticator', 'index.json');

export function checkEntryName(name: string): string {
  if (!ENTRY_NAME.test(name)) throw usageError(`Invalid name "${name}": use letters, digits, ".", "_", "@", "+" and "-" (at most 64, starting with a letter or digit).`);
  return name;
}

function isEntry(e: unknown): e is AuthenticatorEntry {
  const o = e as AuthenticatorEntry;
  return Boolean(o) && typeof o.name === 'string' && ENTRY_NAME.test(o.name) && typeof o.issuer === 'string' && typeof o.label === 'string'
    && (ALGORITHMS as readonly string[]).includes(o.algorithm) && Number.isInteger(o.digits) && Number.isInteger(o.period)
    && (o.store === 'keychain' || o.store === 'file') && typeof o.addedAt === 'number';
}

export function loadIndex(deps: Deps): AuthenticatorEntry[] {
  const buf = readPrivateFile(indexPath(deps));
  if (!buf) return [];
  try {
    const o = JSON.parse(buf.toString('utf8')) as Index;
    if (o.v === 1 && Array.isArray(o.entries) && o.entries.every(isEntry)) return o.entries;
  } catch { /* reported below */ }
  throw new AuthError('AUTH_STORAGE', `The authenticator index ${indexPath(deps)} is damaged.`, { hint: 'Fix or remove it; the secrets themselves are in the keychain or under the secrets directory.' });
}

async function withIndex<T>(deps: Deps, fn: (entries: AuthenticatorEntry[]) => Promise<T>): Promise<T> {
  const lock = await acquireLock(deps.paths.locksDir, '@authenticator', deps.signal);
  try {
    return await fn(loadIndex(deps));
  } finally {
    lock.release();
  }
}

const saveIndex = (deps: Deps, entries: AuthenticatorEntry[]) =>
  writePrivateFileAtomic(indexPath(deps), `${JSON.stringify({ v: 1, entries } satisfies Index, null, 2)}\n`);

export async function addEntry(deps: Deps, kind: StorageKind | undefined, entry: Omit<AuthenticatorEntry, 'store' | 'addedAt'>, secret: string): Promise<AuthenticatorEntry> {
  return withIndex(deps, async (entries) => {
    if (entries.some((e) => e.name === entry.name)) {
      throw usageError(`An authenticator entry named "${entry.name}" already exists.`, `Pick another name, or run \`auth mfa remove ${entry.name}\` first.`);
    }
    const store = await openSecretStore(kind, deps, `secret for "${entry.name}"`);
    await store.set(account(entry.name), secret);
    const full: AuthenticatorEntry = { ...entry, store: store.backend, addedAt: deps.clock.now() };
    saveIndex(deps, [...entries, full]);
    return full;
  });
}

export async function removeEntry(deps: Deps, name: string): Promise<void> {
  await withIndex(deps, async (entries) => {
    const entry = entries.find((e) => e.name === name);
    if (!entry) throw unknownEntry(name);
    await (await secretStoreFor(entry.store, deps)).delete(account(name));
    saveIndex(deps, entries.filter((e) => e.name !== name));
  });
}

const unknownEntry = (name: string) =>
  usageError(`No authenticator entry named "${name}".`, 'Run `auth mfa list` to see the names, or `auth mfa add` to add one.');

export async function entryParams(deps: Deps, name: string): Promise<{ entry: AuthenticatorEntry; params: TotpParams }> {
  const entry = loadIndex(deps).find((e) => e.name === name);
  if (!entry) throw unknownEntry(name);
  const store = await secretStoreFor(entry.store, deps);
  const secret = (await store.get(account(name)))?.trim();
  if (!secret || !/^[A-Z2-7]+$/.test(secret)) {
    throw new AuthError('AUTH_STORAGE', `The secret for "${name}" is missing or damaged in the ${store.describe(account(name))}.`, {
      hint: `Run \`auth mfa remove ${name}\` and add it again.`,
    });
  }
  return { entry, params: { secret, algorithm: entry.algorithm, digits: entry.digits, period: entry.period } };
}
