import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { Paths } from '../config/paths.js';

/**
 * The parsed config.yaml, cached as JSON for the `auth token` warm path
 * (docs/design.md §7: the YAML parser is too big to load there). The slow path writes
 * it whenever it parses the config; the fast path uses it only when the config
 * file's bytes are exactly the `text` recorded here, so an edit by hand, by
 * another process or by a newer version is never missed. Non-secret, like the
 * config itself; 0600 in the user-only state dir.
 */
export interface ConfigIndex {
  v: 1;
  configFile: string;
  text: string;
  config: Config;
}

export const configIndexPath = (paths: Paths) => join(paths.cacheDir, 'config-index.json');

/** The cached Config when the index matches `configFile` holding `text`; else undefined. */
export function configFromIndex(indexText: string, configFile: string, text: string): Config | undefined {
  let index: ConfigIndex;
  try {
    index = JSON.parse(indexText) as ConfigIndex;
  } catch {
    return undefined;
  }
  if (!index || index.v !== 1 || index.configFile !== configFile || index.text !== text) return undefined;
  const config = index.config;
  if (!config || typeof config !== 'object' || !config.profiles || typeof config.profiles !== 'object') return undefined;
  return config;
}
