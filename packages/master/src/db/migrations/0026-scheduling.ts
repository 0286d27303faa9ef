import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

/**
 * Scheduling beyond the anchors (issue 26). Tables and columns of its own only, so that it lands in
 * any order with the other branches' migrations:
 * - quotas: each member's cap inside a group quota (`per_user_*`), the pool a quota counts in (null:
 *   every pool), budgets over time (`gpu_hours`, `cpu_hours` over a rolling `budget_window_ms` or
 *   the calendar month, `budget_calendar = 'month'`);
 * - tasks: the owner's own order (`priority`), whether it may be preempted (and so borrow), a
 *   preemption under way (`preempt_requested_at`, beside the kill request it rides on) and how many
 *   times it was preempted;
 * - groups: their weight in hierarchical fair share;
 * - guarantees: a group's guaranteed share of a pool, with its borrowing and lending limits;
 * - fair_share_usage: decayed usage per user and group (`group_key` 0: no group), for Fair Tree.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema.alterTable('quotas').addColumn('per_user_running', t.int).execute();
  await db.schema.alterTable('quotas').addColumn('per_user_cpu', t.real).execute();
  await db.schema.alterTable('quotas').addColumn('per_user_memory', t.int).execute();
  await db.schema.alterTable('quotas').addColumn('per_user_gpus', t.int).execute();
  await db.schema.alterTable('quotas').addColumn('pool', 'text').execute();
  await db.schema.alterTable('quotas').addColumn('gpu_hours', t.real).execute();
  await db.schema.alterTable('quotas').addColumn('cpu_hours', t.real).execute();
  await db.schema.alterTable('quotas').addColumn('budget_window_ms', t.int).execute();
  await db.schema.alterTable('quotas').addColumn('budget_calendar', 'text').execute();

  await db.schema.alterTable('tasks').addColumn('priority', t.int, (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('tasks').addColumn('preemptible', t.bool, (c) => c.notNull().defaultTo(t.yes)).execute();
  await db.schema.alterTable('tasks').addColumn('preempt_requested_at', t.time).execute();
  await db.schema.alterTable('tasks').addColumn('preemptions', t.int, (c) => c.notNull().defaultTo(0)).execute();

  await db.schema.alterTable('groups').addColumn('fair_share_weight', t.real, (c) => c.notNull().defaultTo(1)).execute();

  await db.schema
    .createTable('guarantees')
    .addColumn(...t.id('id'))
    .addColumn('group_id', t.int, (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('pool', 'text', (c) => c.notNull())
    .addColumn('gpus', t.real)
    .addColumn('cpu', t.real)
    .addColumn('borrow_gpus', t.real)
    .addColumn('borrow_cpu', t.real)
    .addColumn('lend_gpus', t.real)
    .addColumn('lend_cpu', t.real)
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('guarantees_group_pool').unique().on('guarantees').columns(['group_id', 'pool']).execute();

  await db.schema
    .createTable('fair_share_usage')
    .addColumn('user_id', t.int, (c) => c.notNull().references('users.id').onDelete('cascade'))
    // The group the usage was charged to; 0 for tasks in no group (no foreign key: a deleted group's usage decays away).
    .addColumn('group_key', t.int, (c) => c.notNull())
    .addColumn('cpu_seconds', t.real, (c) => c.notNull().defaultTo(0))
    .addColumn('gpu_seconds', t.real, (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .addPrimaryKeyConstraint('fair_share_usage_pk', ['user_id', 'group_key'])
    .execute();
}
