import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

/**
 * Several masters, one leader (issue 23, `ha` in master.yaml): the lease the leader holds and
 * renews (`leader`, one row, written by the masters themselves when they first start with `ha`),
 * the history of who led under which fencing number and when (`leader_terms`: a term starts only
 * once the previous lease ran out by the database's clock), and which term granted each lease of a
 * task (`lease_grants`, written in the transaction that assigns it; it goes with the task). Times in
 * `leader` and `leader_terms` are the database's clock, in epoch milliseconds. Tables of its own
 * only, so that it lands in any order with the other branches' migrations.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('leader')
    // Always 1: there is one lease.
    .addColumn('id', t.int, (c) => c.primaryKey())
    // The master process holding it (a random id per start) and where it is reached.
    .addColumn('holder', 'text')
    .addColumn('url', 'text')
    // Raised by every takeover: a write carrying an older one changes nothing.
    .addColumn('fencing', t.int, (c) => c.notNull())
    .addColumn('acquired_at', t.time)
    .addColumn('renewed_at', t.time)
    .addColumn('expires_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('leader_terms')
    .addColumn('fencing', t.int, (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('started_at', t.time, (c) => c.notNull())
    // When the lease it took over had run out (null: the first term).
    .addColumn('previous_expired_at', t.time)
    .execute();
  await db.schema
    .createTable('lease_grants')
    .addColumn(...t.id('id'))
    .addColumn('task_id', t.int, (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('lease_id', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('fencing', t.int, (c) => c.notNull())
    .addColumn('granted_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('lease_grants_by_task').on('lease_grants').column('task_id').execute();
}
