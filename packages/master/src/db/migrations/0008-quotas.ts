import { sql, type Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

/**
 * Quotas (issue 14): named limits (null: no limit on that resource), their assignments to users or
 * groups, each task's pending reason (why it waits, while QUEUED) and kill reason (max_runtime), and each user's fair-share usage
 * (decayed CPU- and GPU-seconds, as of `updated_at`). Tables and columns of its own only, so that it
 * lands in any order with the other branches' migrations.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('quotas')
    .addColumn(...t.id('id'))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('max_running', t.int)
    .addColumn('max_submitted', t.int)
    .addColumn('cpu', t.real)
    .addColumn('memory', t.int)
    .addColumn('gpus', t.int)
    .addColumn('max_runtime_ms', t.int)
    .addColumn('deny_on_limit', t.bool, (c) => c.notNull().defaultTo(t.no))
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('quota_assignments')
    .addColumn(...t.id('id'))
    .addColumn('quota_id', t.int, (c) => c.notNull().references('quotas.id').onDelete('cascade'))
    .addColumn('user_id', t.int, (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('group_id', t.int, (c) => c.references('groups.id').onDelete('cascade'))
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addCheckConstraint('quota_assignments_one_principal', sql`(user_id is null) <> (group_id is null)`)
    .execute();
  await db.schema.createIndex('quota_assignments_user').unique().on('quota_assignments').columns(['quota_id', 'user_id']).where('user_id', 'is not', null).execute();
  await db.schema.createIndex('quota_assignments_group').unique().on('quota_assignments').columns(['quota_id', 'group_id']).where('group_id', 'is not', null).execute();

  await db.schema.alterTable('tasks').addColumn('pending_reason', 'text').execute();
  // Why the master killed a task (max_runtime), kept until the agent reports it KILLED.
  await db.schema.alterTable('tasks').addColumn('kill_reason', 'text').execute();
  // The scheduler reads the oldest queued tasks of each owner in each group (fair share, and quotas
  // that hold one back); max_submitted counts an owner's unfinished tasks.
  await db.schema.createIndex('tasks_queued_heads').on('tasks').columns(['state', 'owner_id', 'group_id', 'id']).execute();
  // A group quota's max_submitted counts the group's unfinished tasks on every submission.
  await db.schema.createIndex('tasks_unfinished_by_group').on('tasks').columns(['group_id', 'state']).execute();

  await db.schema
    .createTable('user_usage')
    .addColumn('user_id', t.int, (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('cpu_seconds', t.real, (c) => c.notNull().defaultTo(0))
    .addColumn('gpu_seconds', t.real, (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();
}
