import { PostgresAdapter, sql, type Kysely, type RawBuilder } from 'kysely';

/**
 * Everything that differs between the two stores, SQLite (embedded, one file) and PostgreSQL
 * (`db.url`), lives in `db/`: here (SQL that has no common spelling, locks, errors), in
 * `column-types.ts` (what migrations create) and in `database.ts` (connections, type parsers).
 * Repositories and services call these and never ask which store they are on.
 */
export type DialectName = 'sqlite' | 'postgres';

// Kysely<any>: a Kysely of any schema, or a transaction on one.
type AnyDb = Kysely<any>;

/** Which store a Kysely instance (or transaction) talks to. Kysely's own Migrator asks its adapter the same way. */
export function dialectOf(db: AnyDb): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** A write that broke a unique index or primary key (two writers raced past a check, or a name is taken). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // SQLite's extended codes (better-sqlite3); PostgreSQL's SQLSTATE unique_violation.
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/**
 * A number inside a JSON text column (`run_spec`), e.g. `jsonNumber(db, 'run_spec', ['resources', 'cpu'])`;
 * SQL null where the path holds nothing. Path segments are fixed names in the code, never input.
 */
export function jsonNumber(db: AnyDb, column: string, path: readonly string[]): RawBuilder<number | null> {
  if (path.some((segment) => !/^[a-z_][a-z0-9_]*$/i.test(segment))) throw new Error(`bad JSON path ${path.join('.')}`);
  if (dialectOf(db) === 'postgres') {
    return sql<number | null>`(${sql.ref(column)}::jsonb #>> ${sql.lit(`{${path.join(',')}}`)})::double precision`;
  }
  return sql<number | null>`json_extract(${sql.ref(column)}, ${sql.lit(`$.${path.join('.')}`)})`;
}

/**
 * What a transaction may hold exclusively, by name: PostgreSQL's transaction-scoped advisory locks,
 * `pg_advisory_xact_lock(namespace, id)`, released at commit or rollback. The numbers are fixed: two
 * masters of different versions on one database must mean the same thing by them.
 */
export const LOCKS = {
  /** Submissions of one user under a refusing quota (max_submitted, deny_on_limit): the count and the insert. */
  userSubmissions: 1,
  /** Submissions charged to one group under a refusing quota. */
  groupSubmissions: 2,
  /** Every uid range and gid handed out (a range is checked against all the others). */
  uidRanges: 3,
  /** The uids given to members of one ranged group. */
  groupUids: 4,
  /** Changes that could leave no active admin: the last-admin check and the change are one step. */
  admins: 5,
  /** The tree of groups: creating, moving (a subtree's paths) and deleting groups. */
  groupTree: 6,
  /** Reserved for several masters (issue 23's HA part; the lease is the `leader` row itself, held `for share` by fenced writes). */
  leader: 7,
} as const;
export type LockName = keyof typeof LOCKS;

/**
 * Holds `lock` (for `id`) until the transaction ends, so that what it guards (a count and the
 * insert it allows, a check across rows and the write it allows) is one step for every master
 * process and connection. On SQLite the transaction itself is that lock already: the master's one
 * connection runs nothing else from BEGIN to COMMIT (and another process writing the file waits for
 * it), so this is a no-op there.
 */
export async function holdLock(trx: AnyDb, lock: LockName, id = 0): Promise<void> {
  if (!trx.isTransaction) throw new Error(`holdLock(${lock}) outside a transaction would hold nothing`);
  if (dialectOf(trx) === 'sqlite') return;
  await sql`select pg_advisory_xact_lock(${sql.lit(LOCKS[lock])}::int4, ${id}::int4)`.execute(trx);
}

/**
 * ` for update` / ` for share` on PostgreSQL, where a row read in a transaction can be held against
 * writers; nothing on SQLite, whose transaction holds the whole database already.
 */
export function rowLock<Q extends { forUpdate(): Q; forShare(): Q }>(db: AnyDb, query: Q, mode: 'update' | 'share' = 'update'): Q {
  if (dialectOf(db) === 'sqlite') return query;
  return mode === 'update' ? query.forUpdate() : query.forShare();
}

/**
 * The database server's clock in epoch milliseconds (`clock_timestamp()`: the time of the call, not
 * of the transaction's start). The leader's lease runs by it, so that masters whose own clocks
 * differ agree on when it ran out.
 */
export function databaseNowMs(db: AnyDb): RawBuilder<number> {
  if (dialectOf(db) === 'postgres') return sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;
  return sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
}
