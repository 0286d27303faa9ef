import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration, type SqliteDatabase, type Transaction } from 'kysely';
import * as usersAndSessions from './migrations/0001-users-and-sessions.js';
import * as tasks from './migrations/0002-tasks.js';
import * as agents from './migrations/0003-agents.js';
import * as accessModel from './migrations/0005-access-model.js';
import * as authBackends from './migrations/0006-auth-backends.js';
import * as admission from './migrations/0007-admission.js';
import * as quotas from './migrations/0008-quotas.js';
import * as groupIdentity from './migrations/0009-group-identity.js';
import * as killRequests from './migrations/0021-kill-requests.js';
import * as taskAgentTokens from './migrations/0022-task-agent-tokens.js';
import * as usageLedger from './migrations/0031-usage-ledger.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
/** The database or a transaction on it: what repositories take, so that callers choose. */
export type Executor = Kysely<Database> | Transaction<Database>;

/** Migrations in order; a new one is appended, never edited after it shipped. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-users-and-sessions': usersAndSessions,
  '0002-tasks': tasks,
  '0003-agents': agents,
  '0005-access-model': accessModel,
  '0006-auth-backends': authBackends,
  '0007-admission': admission,
  '0008-quotas': quotas,
  '0009-group-identity': groupIdentity,
  '0021-kill-requests': killRequests,
  '0022-task-agent-tokens': taskAgentTokens,
  '0031-usage-ledger': usageLedger,
};

export interface OpenedDatabase {
  db: Db;
  /** The raw handle, for the few hot paths that prepare their own statements. */
  sqlite: SQLite.Database;
  /** Reads from the file (its first page); throws when the database cannot be used. For /readyz. */
  check(): void;
  close(): Promise<void>;
}

/** Opens (creating if needed) the SQLite file in WAL mode and brings its schema up to date. */
export async function openDatabase(file: string): Promise<OpenedDatabase> {
  if (file !== ':memory:') createPrivately(file);
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  // Branches add migrations in parallel (their numbers are fixed in advance), so a database made on
  // one branch may hold a later number than one it lacks: the missing one runs then, rather than
  // the start failing. Each migration changes tables and columns of its own, so the order they land
  // in does not matter; a new one must keep it so.
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS }, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await db.destroy();
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
  const probe = sqlite.prepare('select count(*) from sqlite_schema').pluck();
  return { db, sqlite, check: () => void probe.get(), close: () => db.destroy() };
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
