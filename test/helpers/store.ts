import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

/**
 * Which store the suite runs on: SQLite (the default) or PostgreSQL (`YARD_TEST_DB=postgres`, with
 * `YARD_TEST_PG_URL` naming a server the tests may create databases on: `scripts/postgres.sh up`
 * starts one, and `npm test` runs the whole suite once on each store).
 */
export const TEST_STORE: 'sqlite' | 'postgres' = process.env.YARD_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
export const onPostgres = TEST_STORE === 'postgres';

/** The server's admin URL; fails loudly when the suite was asked for PostgreSQL without one. */
export function postgresAdminUrl(): string {
  const url = process.env.YARD_TEST_PG_URL;
  if (!url) {
    throw new Error(
      'YARD_TEST_DB=postgres but YARD_TEST_PG_URL is not set: start a server with `bash scripts/postgres.sh up` and export what it prints',
    );
  }
  return url;
}

/** The URL of database `name` on the test server. */
export function databaseUrl(name: string, admin = postgresAdminUrl()): string {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(run: (client: pg.Client) => Promise<T>, url = postgresAdminUrl()): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database on the test server (its name unique in the run). */
export async function createDatabase(prefix = 'yard_t'): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${process.pid}_${randomBytes(5).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  return { name, url: databaseUrl(name) };
}

/** Drops a database made by createDatabase, ending any connection still open to it. */
export async function dropDatabase(name: string): Promise<void> {
  if (!/^yard_\w+$/.test(name)) throw new Error(`not a test database: ${name}`);
  await admin((client) => client.query(`drop database if exists ${name} with (force)`));
}

/**
 * The store of a test master's directory: on PostgreSQL, the database made for `dir` the first time
 * (its URL kept in the directory, so that a master restarted there finds its data again); on SQLite,
 * undefined (the master's file lives in `dir`). `created` says whether this call made it.
 */
export async function storeFor(dir: string): Promise<{ url: string; name: string; created: boolean } | undefined> {
  if (!onPostgres) return undefined;
  const file = path.join(dir, 'postgres-database.json');
  if (existsSync(file)) return { ...(JSON.parse(readFileSync(file, 'utf8')) as { url: string; name: string }), created: false };
  const made = await createDatabase();
  writeFileSync(file, JSON.stringify(made));
  return { ...made, created: true };
}

/** `db:` for a master.yaml in `dir` written by a test: its SQLite file, or its PostgreSQL database. */
export async function dbConfigFor(dir: string, sqliteFile = './trainyard.db'): Promise<{ path: string } | { url: string }> {
  const store = await storeFor(dir);
  return store ? { url: store.url } : { path: sqliteFile };
}

/** The database a test master uses, as the master's own (typed) Kysely: the same queries on both stores. */
export type StoreDb = import('@trainyard/master').Master['database']['db'];
export type StoreTable = Parameters<StoreDb['selectFrom']>[0] & string;

/** How many rows `table` holds, read through the running master's own connection. */
export async function countRows(master: { master: import('@trainyard/master').Master }, table: StoreTable): Promise<number> {
  const db = master.master.database.db;
  const row = await db.selectFrom(table as 'users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Makes the test master's store unusable, as a database that went away: SQLite's handle closed, or
 * the PostgreSQL database refusing connections (and its open ones ended). Returns what undoes it
 * (PostgreSQL only; a closed SQLite handle stays closed).
 */
export async function breakStore(m: { master: import('@trainyard/master').Master; dbUrl?: string }): Promise<() => Promise<void>> {
  if (!m.dbUrl) {
    m.master.database.sqlite!.close();
    return async () => {};
  }
  const name = new URL(m.dbUrl).pathname.slice(1);
  await admin(async (client) => {
    await client.query(`alter database ${name} allow_connections false`);
    await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name]);
  });
  return () => admin((client) => client.query(`alter database ${name} allow_connections true`)).then(() => undefined);
}

/** One query on a PostgreSQL database of the test server (for what only PostgreSQL has: sequences, catalogs). */
export function queryPostgres<R extends pg.QueryResultRow = any>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  return admin(async (client) => (await client.query<R>(text, values)).rows, url);
}
