import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { BackupRefused, backupSqlite } from './backup.js';
import { CopyRefused, copyDatabase } from './copy.js';
import { redactUrl, targetOf, type DbTarget } from './database.js';

export const DB_USAGE = `usage: yard-master db copy [--from DB] --to DB [--config PATH] [--json]
       yard-master db backup FILE [--from SQLITE_FILE] [--config PATH] [--json]

  copy    Copies a whole installation (users and their password hashes, sessions and tokens,
          groups, roles, quotas, tasks with their logs, agents, the audit log) into an empty
          database, e.g. from the SQLite file to PostgreSQL; checks that every table's rows match.
          Stop the master first: what it writes after the copy started is not copied.
  backup  A consistent copy of a SQLite store, also while its master runs (SQLite's online backup
          API), checked with PRAGMA integrity_check. For PostgreSQL use pg_dump (README).

  DB is a SQLite file or a postgres://user:password@host:port/database URL. --from defaults to
  the store of master.yaml (./master.yaml, --config or YARD_CONFIG; YARD_DB and YARD_DB_URL apply).

examples:
  yard-master db copy --from ./data/trainyard.db --to postgres://yard:secret@db.example.org/yard
  yard-master db backup /backups/trainyard-$(date +%F).db`;

/** `yard-master db ...`: exits non-zero with one line when refused. */
export async function dbCommand(argv: string[]): Promise<void> {
  let values: { from?: string; to?: string; config?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return fail(`${(error as Error).message}\n${DB_USAGE}`, 2);
  }
  const [action, ...rest] = positionals;
  if (values.help || action === undefined || action === 'help') {
    console.log(DB_USAGE);
    return;
  }
  const progress = values.json ? undefined : (line: string) => console.error(line);
  try {
    if (action === 'copy') {
      if (rest.length > 0) return fail(`unexpected ${rest.join(' ')}\n${DB_USAGE}`, 2);
      if (!values.to) return fail(`db copy needs --to DB (an empty database to copy into)\n${DB_USAGE}`, 2);
      const from = values.from ? targetOf(values.from) : configuredStore(values.config);
      const report = await copyDatabase(from, resolve(targetOf(values.to)), { ...(progress ? { onProgress: progress } : {}) });
      if (values.json) return console.log(JSON.stringify(report, null, 2));
      const width = Math.max(...report.tables.map((t) => t.table.length), 5);
      console.log(`${'TABLE'.padEnd(width)}  ROWS`);
      for (const { table, rows } of report.tables) console.log(`${table.padEnd(width)}  ${rows}`);
      console.log(`copied ${report.from} to ${report.to}: every table's rows match`);
      return;
    }
    if (action === 'backup') {
      const [file, ...more] = rest;
      if (!file || more.length > 0) return fail(`db backup needs one FILE to write\n${DB_USAGE}`, 2);
      const from = values.from ? targetOf(values.from) : configuredStore(values.config);
      if (from.url !== undefined) {
        return fail(`the store is PostgreSQL (${redactUrl(from.url)}): back it up with pg_dump, e.g. pg_dump -Fc -f FILE '${redactUrl(from.url)}' (README, "PostgreSQL")`, 1);
      }
      const report = await backupSqlite(path.resolve(from.path), path.resolve(file), { ...(progress ? { onProgress: progress } : {}) });
      if (values.json) return console.log(JSON.stringify(report, null, 2));
      console.log(`backed up ${report.from} to ${report.to} (${report.bytes} bytes, integrity ok)`);
      return;
    }
    return fail(`unknown db command '${action}'\n${DB_USAGE}`, 2);
  } catch (error) {
    if (error instanceof CopyRefused || error instanceof BackupRefused || error instanceof ConfigError) return fail(error.message, 1);
    return fail((error as Error).message, 1);
  }
}

function resolve(target: DbTarget): DbTarget {
  return target.url === undefined ? { path: path.resolve(target.path) } : target;
}

/** The store the master would use: master.yaml's db (with YARD_DB / YARD_DB_URL). */
function configuredStore(configPath: string | undefined): DbTarget {
  const config = loadConfig(configPath ?? process.env.YARD_CONFIG ?? 'master.yaml');
  return config.db.url === undefined ? { path: config.db.path } : { url: config.db.url };
}

function fail(message: string, code: number): void {
  console.error(`yard-master db: ${message}`);
  process.exitCode = code;
}
