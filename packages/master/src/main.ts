import { parseArgs } from 'node:util';
import { formatVersion } from '@trainyard/shared';
import { createLogger } from '@trainyard/shared/logger';
import { MASTER_VERSION } from './http/master-version.js';
import { ConfigError, loadConfig } from './config/load-config.js';
import { dbCommand } from './db/db-command.js';
import { DomainError } from './errors.js';
import { MasterStartError, startMaster } from './master.js';

const USAGE = `usage: yard-master [--config PATH]
       yard-master db copy|backup ...   (yard-master db --help)
       yard-master --version

Starts the Trainyard master. Reads ./master.yaml, or the file named by --config or YARD_CONFIG.
Env vars YARD_DB (a SQLite file), YARD_DB_URL (PostgreSQL), YARD_HOST and YARD_PORT override the file.`;

export async function main(argv: string[]): Promise<void> {
  // Moving and keeping the store: copy (to PostgreSQL, say) and backup.
  if (argv[0] === 'db') return dbCommand(argv.slice(1));
  let configPath: string;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
    });
    if (values.help) {
      console.log(USAGE);
      return;
    }
    if (values.version) {
      console.log(`yard-master ${formatVersion(MASTER_VERSION)}`);
      return;
    }
    configPath = values.config ?? process.env.YARD_CONFIG ?? 'master.yaml';
  } catch (error) {
    console.error(`yard-master: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }

  let config;
  try {
    config = loadConfig(configPath);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`yard-master: refusing to start: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }

  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const master = await startMaster({ config, configFile: configPath, logger }).catch((error: unknown) => {
    // Settings only checkable at start (a certificate, secrets and files master.yaml names) fail like the file itself.
    if (error instanceof MasterStartError || error instanceof ConfigError) console.error(`yard-master: refusing to start: ${error.message}`);
    else logger.fatal({ err: error }, 'master failed to start');
    process.exit(1);
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await master.close();
    process.exit(0);
  };
  // SIGHUP re-reads master.yaml's policy section only; an invalid one keeps the policy in force.
  // The store logs (and audits) what changed, what needs a restart, or what is wrong.
  process.on('SIGHUP', () => {
    master.services.policy.reload({ system: 'SIGHUP' }).catch((error: unknown) => {
      if (!(error instanceof DomainError)) logger.error({ err: error }, 'policy reload on SIGHUP failed');
    });
  });
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
