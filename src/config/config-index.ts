import { VERSION } from '../version.js';
import type { Config, ConfigIndex } from './config.js';

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
