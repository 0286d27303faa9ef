import { createRequire } from 'node:module';

/** This agent's release: its package's version (one source), sent when it registers and printed by `--version`. */
export const AGENT_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
