import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration } from 'kysely';
import * as usersAndSessions from './migrations/0001-users-and-sessions.js';
import * as tasks from './migrations/0002-tasks.js';
import * as agents from './migrations/0003-agents.js';
import * as authBackends from './migrations/0006-auth-backends.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/** Migrations in order; a new one is appended, never edited after it shipped. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-users-and-sessions': usersAndSessions,
  '0002-tasks': tasks,
  '0003-agents': agents,
  '0006-auth-backends': authBackends,
};

export interface OpenedDatabase {
  db: Db;
  /** The raw handle, for the few hot paths that prepare their own statements. */
  sqlite: SQLite.Database;
  close(): Promise<void>;
}

/** Opens (creating if needed) the SQLite file in WAL mode and brings its schema up to date. */
export async function openDatabase(file: string): Promise<OpenedDatabase> {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await db.destroy();
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
  return { db, sqlite, close: () => db.destroy() };
}
