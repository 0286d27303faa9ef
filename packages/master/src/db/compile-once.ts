import type { Compilable, CompiledQuery } from 'kysely';
import { preparedOnPostgres, type Executor } from './database.js';
import { dialectOf, type DialectName } from './dialect.js';

/**
 * A query that is built and compiled once and then run with new values: Kysely builds and
 * compiles a query on every call, which for the queries every request runs costs about as much
 * as running them. `build` is called once with `placeholders`; each run puts its own values where
 * a parameter equals a placeholder, so placeholders must be values the query holds nowhere else.
 * Once per store kind: SQLite and PostgreSQL spell the same query differently (`?` and `$1`), and
 * one process may use both (`db copy`, the bench, the tests).
 */
export function compileOnce<Args extends readonly unknown[], Row>(
  build: (db: Executor, ...args: Args) => Compilable<Row>,
  placeholders: Args,
): (db: Executor, ...args: Args) => Promise<Row[]> {
  const byDialect = new Map<DialectName, CompiledQuery<Row>>();
  return async (db, ...args) => {
    const dialect = dialectOf(db);
    let compiled = byDialect.get(dialect);
    if (!compiled) {
      byDialect.set(dialect, (compiled = build(db, ...placeholders).compile()));
      // The few queries every request runs: PostgreSQL parses and plans them once per connection.
      if (dialect === 'postgres') preparedOnPostgres(compiled.sql);
    }
    const parameters = compiled.parameters.map((p) => {
      const index = placeholders.indexOf(p);
      return index === -1 ? p : args[index];
    });
    return (await db.executeQuery<Row>({ ...compiled, parameters })).rows;
  };
}
