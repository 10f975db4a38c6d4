import { configIndexFile } from '../store/layout.js';
import { VERSION } from '../version.js';
import type { Config } from './config.js';
import type { Paths } from './paths.js';

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
  /** The CLI version that wrote it: another version (an upgrade, a downgrade) never trusts it. */
  cli: string;
  configFile: string;
  text: string;
  config: Config;
}

export const configIndexPath = (paths: Paths) => configIndexFile(paths);

/** The cached Config when the index matches `configFile` holding `text`; else undefined. */
export function configFromIndex(indexText: string, configFile: string, text: string): Config | undefined {
  let index: ConfigIndex;
  try {
    index = JSON.parse(indexText) as ConfigIndex;
  } catch {
    return undefined;
  }
  if (!index || index.v !== 1 || index.cli !== VERSION || index.configFile !== configFile || index.text !== text) return undefined;
  const config = index.config;
  if (!config || typeof config !== 'object' || !config.profiles || typeof config.profiles !== 'object') return undefined;
  return config;
}
