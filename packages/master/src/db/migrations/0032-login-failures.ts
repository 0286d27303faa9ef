import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

/**
 * The login throttle's counters (issue 23): failed logins per user name and per client address,
 * in the store that every master shares, so that several masters have one budget between them and
 * a restart does not hand an attacker a fresh one. One row per counter (`user:<name>`,
 * `addr:<address>`): how many attempts it has counted and when its window ends (epoch
 * milliseconds). A table of its own only, so that it lands in any order with other migrations.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('login_failures')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('attempts', t.int, (c) => c.notNull())
    .addColumn('window_ends_at', t.time, (c) => c.notNull())
    .execute();
  // Ended windows are swept away by their end.
  await db.schema.createIndex('login_failures_by_end').on('login_failures').column('window_ends_at').execute();
}
