import type { Deps } from '../deps.js';
import { getToken } from '../app/get-token.js';
import { relativeTime } from '../ui/text.js';

export interface RefreshOptions {
  profile?: string;
  force?: boolean;
}

/** docs/design.md §2 `auth refresh`: refresh when close to expiry, or now with --force. */
export async function runRefresh(opts: RefreshOptions, deps: Deps): Promise<void> {
  const { profile, credential, refreshed } = await getToken({ guarded: false, force: Boolean(opts.force), ...(opts.profile === undefined ? {} : { profile: opts.profile }) }, deps);
  const expiry = credential.expiresAt !== undefined ? `; it expires ${relativeTime(credential.expiresAt - deps.clock.now())}` : '';
  if (refreshed) deps.log.success(`Refreshed the access token for profile ${profile.name}${expiry}.`);
  else deps.log.info(`The access token for profile ${profile.name} is still fresh${expiry}; nothing to do (use --force to refresh anyway).`);
}
