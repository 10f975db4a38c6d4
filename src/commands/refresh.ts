import type { Deps } from '../deps.js';
import { ensureFreshCredential } from '../flows/refresh.js';
import { relativeTime } from '../ui/text.js';
import { clientSecretFor, loadProfile, storeFor } from './context.js';

export interface RefreshOptions {
  profile?: string;
  force?: boolean;
}

/** docs/design.md §2 `auth refresh`: refresh when close to expiry, or now with --force. */
export async function runRefresh(opts: RefreshOptions, deps: Deps): Promise<void> {
  const { profile } = loadProfile(deps, { profile: opts.profile });
  const store = await storeFor(profile, deps);
  const secret = profile.clientSecretEnv ? await clientSecretFor(profile, deps) : undefined;
  const { credential, refreshed } = await ensureFreshCredential({
    profile: profile.name,
    store,
    minTtlMs: 300_000,
    force: Boolean(opts.force),
    ...(secret ? { clientSecret: secret } : {}),
    deps,
  });
  const expiry = credential.expiresAt !== undefined ? `; it expires ${relativeTime(credential.expiresAt - deps.clock.now())}` : '';
  if (refreshed) deps.log.success(`Refreshed the access token for profile ${profile.name}${expiry}.`);
  else deps.log.info(`The access token for profile ${profile.name} is still fresh${expiry}; nothing to do (use --force to refresh anyway).`);
}
