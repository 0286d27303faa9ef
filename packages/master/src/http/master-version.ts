import { createRequire } from 'node:module';
import { API_VERSION, type MasterVersion } from '@trainyard/shared';

/** This master's release (its package's version, read once) and the API version it speaks. */
export const MASTER_VERSION: MasterVersion = {
  version: (createRequire(import.meta.url)('../../package.json') as { version: string }).version,
  apiVersion: API_VERSION,
};
