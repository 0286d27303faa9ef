import os from 'node:os';
import path from 'node:path';

/** $XDG_CONFIG_HOME/yard (or ~/.config/yard): settings and, without a keychain, tokens. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'yard');
}
