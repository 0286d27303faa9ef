export { startMaster, type Master, type MasterOptions } from './master.js';
export { loadConfig, parseConfig, defaultConfig, ConfigError } from './config/load-config.js';
export type { MasterConfig, MasterConfigInput } from './config/config-schema.js';
export type { Clock } from './clock.js';
export { openDatabase, targetOf, type DbTarget, type OpenedDatabase } from './db/database.js';
export { MasterStartError } from './master.js';
export { createArgon2Hasher, type PasswordHasher } from './users/password-hasher.js';
export { renderRouteTable, type RouteInfo, type RouteBinding } from './authz/routes.js';
export { Leadership, leaseTimings, type LeadershipListener } from './ha/leadership.js';
