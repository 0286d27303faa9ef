import type { Compilable, CompiledQuery } from 'kysely';
import type { Executor } from './database.js';

/**
 * A query that is built and compiled once and then run with new values: Kysely builds and
 * compiles a query on every call, which for the queries every request runs costs about as much
 * as running them. `build` is called once with `placeholders`; each run puts its own values where
 * a parameter equals a placeholder, so placeholders must be values the query holds nowhere else.
 */
export function compileOnce<Args extends readonly unknown[], Row>(
  build: (db: Executor, ...args: Args) => Compilable<Row>,
  placeholders: Args,
): (db: Executor, ...args: Args) => Promise<Row[]> {
  let compiled: CompiledQuery<Row> | undefined;
  return async (db, ...args) => {
    compiled ??= build(db, ...placeholders).compile();
    const parameters = compiled.parameters.map((p) => {
      const index = placeholders.indexOf(p);
      return index === -1 ? p : args[index];
    });
    return (await db.executeQuery<Row>({ ...compiled, parameters })).rows;
  };
}
