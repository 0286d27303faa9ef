export { startMaster, type Master, type MasterOptions } from './master.js';
export { loadConfig, parseConfig, defaultConfig, ConfigError } from './config/load-config.js';
export type { MasterConfig, MasterConfigInput } from './config/config-schema.js';
export type { Clock } from './clock.js';
export type { DirectoryGroupSync } from './auth/directory-groups.js';
