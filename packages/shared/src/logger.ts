import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

// Loaded only for a terminal: JSON logging (services, tests) never pays for it.
const require = createRequire(import.meta.url);

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The master's and the agent's logger: human-readable lines on a terminal (pino-pretty, in this
 * thread so that nothing is lost at exit), JSON lines otherwise, for log collectors. `auto`
 * decides by whether stdout is a terminal.
 */
export function createLogger(options: { level: string; format?: LogFormat }): Logger {
  const format = options.format ?? 'auto';
  const base = { level: options.level };
  const human = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  if (!human) return pino(base);
  const pretty = require('pino-pretty') as typeof PinoPretty;
  return pino(base, pretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
}
