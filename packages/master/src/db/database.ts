import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration, type SqliteDatabase, type Transaction } from 'kysely';
import pg from 'pg';
import * as usersAndSessions from './migrations/0001-users-and-sessions.js';
import * as tasks from './migrations/0002-tasks.js';
import * as agents from './migrations/0003-agents.js';
import * as accessModel from './migrations/0005-access-model.js';
import * as authBackends from './migrations/0006-auth-backends.js';
import * as admission from './migrations/0007-admission.js';
import * as quotas from './migrations/0008-quotas.js';
import * as groupIdentity from './migrations/0009-group-identity.js';
import * as pools from './migrations/0011-pools.js';
import * as scheduling from './migrations/0026-scheduling.js';
import * as killRequests from './migrations/0021-kill-requests.js';
import * as taskAgentTokens from './migrations/0022-task-agent-tokens.js';
import * as leader from './migrations/0023-leader.js';
import * as images from './migrations/0027-images.js';
import * as usageLedger from './migrations/0031-usage-ledger.js';
import * as loginFailures from './migrations/0032-login-failures.js';
import type { DialectName } from './dialect.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
/** The database or a transaction on it: what repositories take, so that callers choose. */
export type Executor = Kysely<Database> | Transaction<Database>;

/**
 * Migrations in order; a new one is appended, never edited after it shipped. One history for both
 * stores: every column type comes from `column-types.ts` (see the rule there).
 */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-users-and-sessions': usersAndSessions,
  '0002-tasks': tasks,
  '0003-agents': agents,
  '0005-access-model': accessModel,
  '0006-auth-backends': authBackends,
  '0007-admission': admission,
  '0008-quotas': quotas,
  '0009-group-identity': groupIdentity,
  '0011-pools': pools,
  '0021-kill-requests': killRequests,
  '0022-task-agent-tokens': taskAgentTokens,
  '0023-leader': leader,
  '0026-scheduling': scheduling,
  '0027-images': images,
  '0031-usage-ledger': usageLedger,
  '0032-login-failures': loginFailures,
};

/** Where the store is: a SQLite file (the embedded default) or a PostgreSQL URL (`db.url`). */
export type DbTarget = { path: string; url?: undefined } | { url: string };

export interface OpenOptions {
  /** Bring the schema up to date (default); `db copy` reads a source as it is. */
  migrate?: boolean;
  /**
   * Only read (`db copy`'s source): a SQLite file is opened read-only and must exist, and nothing
   * in it changes, not even its journal mode or its permissions. Implies `migrate: false`.
   */
  readonly?: boolean;
  /** PostgreSQL: connections in the pool (`db.pool_size`). */
  poolSize?: number;
  /** PostgreSQL: an idle connection failed (the server restarted, a network cut); the pool replaces it. */
  onIdleError?: (error: Error) => void;
  /**
   * PostgreSQL: the server ends a session that keeps a transaction open and idle this long (several
   * masters: a leader frozen in the middle of a transaction must not hold the lease's row, or a
   * task's, from the master that takes over).
   */
  idleInTransactionTimeoutMs?: number;
}

export interface OpenedDatabase {
  db: Db;
  dialect: DialectName;
  /** Where it is, for logs and messages: the file, or the URL without its password. */
  label: string;
  /** The raw SQLite handle (SQLite only), for `db backup` and the tests that break it on purpose. */
  sqlite?: SQLite.Database;
  /** Reads from the database; throws when it cannot be used. For /readyz. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/** A database named on a command line: a postgres:// URL, or else a SQLite file path. */
export function targetOf(value: string): DbTarget {
  return isPostgresUrl(value) ? { url: value } : { path: value };
}

/** Opens the store (creating a SQLite file if needed) and brings its schema up to date. */
export async function openDatabase(target: DbTarget | string, options: OpenOptions = {}): Promise<OpenedDatabase> {
  const where = typeof target === 'string' ? { path: target } : target;
  const opened = where.url === undefined ? openSqlite(where.path, options.readonly ?? false) : openPostgres(where.url, options);
  if (options.migrate !== false && !options.readonly) await migrate(opened);
  return opened;
}

async function migrate(opened: OpenedDatabase): Promise<void> {
  // Branches add migrations in parallel (their numbers are fixed in advance), so a database made on
  // one branch may hold a later number than one it lacks: the missing one runs then, rather than
  // the start failing. Each migration changes tables and columns of its own, so the order they land
  // in does not matter; a new one must keep it so. On PostgreSQL they run in one transaction, under
  // Kysely's migration lock: masters starting together migrate once.
  const migrator = new Migrator({ db: opened.db, provider: { getMigrations: async () => MIGRATIONS }, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await opened.close();
    const message = String((error as Error | undefined)?.message ?? error);
    throw new Error(failed ? `migration ${failed.migrationName} failed on ${opened.label}: ${message}` : message);
  }
}

function openSqlite(file: string, readonly: boolean): OpenedDatabase {
  if (file !== ':memory:' && !readonly) createPrivately(file);
  const sqlite = new SQLite(file, readonly ? { readonly: true, fileMustExist: true } : {});
  if (!readonly) {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
  }
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const probe = sqlite.prepare('select count(*) from sqlite_schema').pluck();
  return {
    db,
    dialect: 'sqlite',
    label: file,
    sqlite,
    check: async () => void probe.get(),
    close: () => db.destroy(),
  };
}

/**
 * PostgreSQL through a pool of `pg` connections. Values come back as the repositories know them
 * from SQLite: bigint (times in epoch milliseconds, ids, counts) and numeric (sums) as numbers,
 * booleans as 1/0 (column-types.ts).
 */
function openPostgres(url: string, options: OpenOptions): OpenedDatabase {
  const pool = new pg.Pool({
    Client: PreparingClient,
    connectionString: url,
    max: options.poolSize ?? 10,
    // A database that does not answer fails the request (and /readyz) instead of hanging it.
    connectionTimeoutMillis: 10_000,
    ...(options.idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs } : {}),
    types: { getTypeParser: typeParser as typeof pg.types.getTypeParser },
  });
  // Without a listener, an idle connection's error (a server restart) would end the process.
  pool.on('error', (error) => options.onIdleError?.(error));
  // Nor a connection's that is checked out but between queries (inside a transaction) when the server
  // or the network drops it: its next query fails and says so, and the pool drops it at release.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    label: redactUrl(url),
    check: async () => void (await sql`select 1`.execute(db)),
    close: () => db.destroy(),
  };
}

/**
 * The SQL of the queries that run on every request (compiled once: the session, the caller's grants),
 * by the name each connection prepares it under. A statement sent without a name is parsed and
 * planned anew every time (the grants query's plan alone took ~1 ms); a named one once per
 * connection. Only these few, fixed texts: every distinct name stays prepared as long as its connection.
 */
const PREPARED = new Map<string, string>();

export function preparedOnPostgres(sqlText: string): void {
  if (!PREPARED.has(sqlText)) PREPARED.set(sqlText, `yard_${PREPARED.size + 1}`);
}

class PreparingClient extends pg.Client {
  override query(config: any, values?: any, callback?: any): any {
    const name = typeof config === 'string' && Array.isArray(values) ? PREPARED.get(config) : undefined;
    return name ? super.query({ name, text: config, values }, callback) : super.query(config, values, callback);
  }
}

const INT8 = 20;
const NUMERIC = 1700;
const BOOL = 16;

function typeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8) return toSafeInteger;
  if (oid === NUMERIC) return Number;
  if (oid === BOOL) return (value: string) => (value === 't' ? 1 : 0);
  return pg.types.getTypeParser(oid, format ?? 'text');
}

function toSafeInteger(value: string): number {
  const n = Number(value);
  // Epoch milliseconds, ids and byte counts are far below 2^53; anything above would be silently wrong.
  if (!Number.isSafeInteger(n)) throw new Error(`bigint ${value} read from PostgreSQL does not fit a JavaScript number`);
  return n;
}

/** postgres://user:secret@host/db -> postgres://user@host/db, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/**
 * The database holds password and token hashes: its directory is created 0700 and the file 0600
 * (SQLite gives its -wal and -shm files the mode of the database file). An existing file that
 * others may read is tightened to 0600; an existing directory is left as the admin made it.
 */
function createPrivately(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const part of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(part) && (statSync(part).mode & 0o077) !== 0) chmodSync(part, 0o600);
  }
}

/**
 * better-sqlite3 for Kysely, keeping prepared statements by their SQL: every request runs the same
 * few queries (the session, the caller's grants, a page of tasks), and preparing them again each
 * time costs as much as running them. Kysely uses one connection at a time, so a statement is
 * never in use twice at once.
 */
function withStatementCache(sqlite: SQLite.Database, size = 256): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql) {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql);
      } else {
        statement = sqlite.prepare(sql);
        if (statements.size >= size) statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
