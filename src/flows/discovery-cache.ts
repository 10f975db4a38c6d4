import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type * as client from 'openid-client';
import type { Deps } from '../deps.js';
import { readTrustedFile, writePrivateFileAtomic } from '../store/fs-safe.js';
import { checkEndpoints } from './endpoints.js';

/**
 * Discovery metadata kept on disk so a refresh needs no discovery round-trip
 * (docs/design.md §7). docs/security.md R07: the file lives in the user-only state dir, is
 * bound to the issuer it was fetched for, and is re-checked on every load —
 * the issuer inside must still equal the configured one byte for byte (R01)
 * and every endpoint must pass the https rule (R02). Anything else, or an
 * entry older than MAX_AGE_MS, is ignored and discovery runs again.
 */
const DISCOVERY_MAX_AGE_MS = 24 * 60 * 60_000;

interface Entry {
  v: 1;
  issuer: string;
  fetchedAt: number;
  metadata: client.ServerMetadata;
}

function discoveryCachePath(deps: Deps, issuer: string): string {
  const id = createHash('sha256').update(issuer).digest('hex').slice(0, 32);
  return join(deps.paths.cacheDir, 'discovery', `${id}.json`);
}

export function readDiscoveryCache(issuer: string, deps: Deps): client.ServerMetadata | undefined {
  try {
    // Only a file no other user could have planted (it names the token endpoint); else discovery runs again.
    const buf = readTrustedFile(discoveryCachePath(deps, issuer), { maxBytes: 1024 * 1024 });
    if (!buf) return undefined;
    const entry = JSON.parse(buf.toString('utf8')) as Entry;
    const now = deps.clock.now();
    if (!entry || entry.v !== 1 || entry.issuer !== issuer || typeof entry.fetchedAt !== 'number') return undefined;
    if (entry.fetchedAt > now || now - entry.fetchedAt > DISCOVERY_MAX_AGE_MS) return undefined;
    const metadata = entry.metadata;
    if (!metadata || typeof metadata !== 'object' || metadata.issuer !== issuer) return undefined;
    checkEndpoints(metadata);
    deps.log.debug('using cached discovery metadata');
    return metadata;
  } catch {
    return undefined;
  }
}

export function writeDiscoveryCache(issuer: string, metadata: client.ServerMetadata, deps: Deps): void {
  if (metadata.issuer !== issuer) return;
  const entry: Entry = { v: 1, issuer, fetchedAt: deps.clock.now(), metadata };
  try {
    writePrivateFileAtomic(discoveryCachePath(deps, issuer), JSON.stringify(entry));
  } catch (e) {
    deps.log.debug(`could not cache discovery metadata: ${(e as Error).name}`);
  }
}
