import { sql, type ColumnDataType, type ColumnDefinitionBuilder, type Expression, type Kysely } from 'kysely';
import { dialectOf } from './dialect.js';

type Build = (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
type DataType = ColumnDataType | Expression<unknown>;

/**
 * The column types every migration writes, one spelling per store, so that one migration history
 * builds the same schema on SQLite and on PostgreSQL. The rule for migrations (docs/architecture.md,
 * "The store"): take every type from here, never a literal 'integer', 'real', `autoIncrement()` or
 * `collate nocase`; test/store.test.ts runs every migration on both stores and fails on a column
 * PostgreSQL would get wrong (an int4 that epoch milliseconds overflow, a float4).
 *
 * On SQLite these are exactly what the migrations wrote before PostgreSQL (the schema of an
 * existing file does not change). On PostgreSQL integers are `bigint` (epoch-millisecond times and
 * byte counts overflow int4; the pool reads int8 back as a number), booleans are `boolean` (read
 * back as 1/0, SQLite's spelling, so repositories see one representation; parameters 1 and 0 are
 * valid booleans), reals are `double precision`, and case-insensitive names are `citext`.
 */
export function columnTypes(db: Kysely<any>) {
  const pg = dialectOf(db) === 'postgres';
  return {
    /** An integer: ids, counts, uids, byte counts (`bigint` on PostgreSQL). */
    int: (pg ? 'bigint' : 'integer') as DataType,
    /** Epoch milliseconds. */
    time: (pg ? 'bigint' : 'integer') as DataType,
    /** A boolean, 0/1 as repositories see it. */
    bool: (pg ? 'boolean' : 'integer') as DataType,
    /** The default of a boolean column: `.defaultTo(t.yes)` / `.defaultTo(t.no)`. */
    yes: pg ? sql`true` : 1,
    no: pg ? sql`false` : 0,
    /** A floating-point number (CPUs, fair-share seconds). */
    real: (pg ? 'double precision' : 'real') as DataType,
    /** Text compared and kept unique without regard to case: "Alice" and "alice" are one name. */
    nocaseText: (pg ? sql`citext` : sql`text collate nocase`) as DataType,
    /**
     * The table's own id: `.addColumn(...t.id('id'))`. Ids are never reused (SQLite's
     * AUTOINCREMENT, PostgreSQL's identity sequence), and inserts with an explicit id (`db copy`)
     * are allowed on both.
     */
    id: (name: string): [string, DataType, Build] =>
      pg
        ? [name, 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity()]
        : [name, 'integer', (c) => c.primaryKey().autoIncrement()],
  };
}

/**
 * What a fresh PostgreSQL database needs before the first migration: `citext`, for names that are
 * unique without regard to case. It is a trusted extension (PostgreSQL 13+): the database's owner
 * may create it without being a superuser.
 */
export async function prepareStore(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) === 'postgres') await sql`create extension if not exists citext`.execute(db);
}
