import { join } from 'node:path';

export interface Paths {
  configDir: string;
  stateDir: string;
  configFile: string;
  credentialsDir: string;
  locksDir: string;
  cacheDir: string;
}

/**
 * docs/design.md §3: AUTH_HOME holds everything; otherwise config under XDG_CONFIG_HOME
 * (or %APPDATA%) and state under XDG_STATE_HOME (or %LOCALAPPDATA%).
 */
export function resolvePaths(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): Paths {
  let configDir: string;
  let stateDir: string;
  if (env.AUTH_HOME) {
    configDir = stateDir = env.AUTH_HOME;
  } else if (platform === 'win32') {
    configDir = join(env.APPDATA || join(home, 'AppData', 'Roaming'), 'authcli');
    stateDir = join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), 'authcli');
  } else {
    configDir = join(env.XDG_CONFIG_HOME || join(home, '.config'), 'authcli');
    stateDir = join(env.XDG_STATE_HOME || join(home, '.local', 'state'), 'authcli');
  }
  return {
    configDir,
    stateDir,
    configFile: join(configDir, 'config.yaml'),
    credentialsDir: join(stateDir, 'credentials'),
    locksDir: join(stateDir, 'locks'),
    cacheDir: join(stateDir, 'cache'),
  };
}
