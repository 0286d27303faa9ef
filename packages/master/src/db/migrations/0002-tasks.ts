import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('tasks')
    .addColumn(...t.id('id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('owner_id', t.int, (c) => c.notNull().references('users.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('run_uid', t.int, (c) => c.notNull())
    .addColumn('run_user', 'text', (c) => c.notNull())
    .addColumn('run_gid', t.int, (c) => c.notNull())
    .addColumn('run_group', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text')
    .addColumn('exit_code', t.int)
    .addColumn('restarts', t.int, (c) => c.notNull().defaultTo(0))
    .addColumn('kill_requested_at', t.time)
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .addColumn('started_at', t.time)
    .addColumn('ended_at', t.time)
    .execute();
  // One index per list query: newest first, filtered by kind and optionally by owner.
  await db.schema.createIndex('tasks_by_kind').on('tasks').columns(['kind', 'id']).execute();
  await db.schema.createIndex('tasks_by_kind_owner').on('tasks').columns(['kind', 'owner_id', 'id']).execute();
  await db.schema.createIndex('tasks_by_owner').on('tasks').columns(['owner_id', 'id']).execute();
  // The scheduler's queue scan.
  await db.schema.createIndex('tasks_by_state').on('tasks').columns(['state', 'id']).execute();

  await db.schema
    .createTable('task_logs')
    .addColumn('task_id', t.int, (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('seq', t.int, (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('line', 'text', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addPrimaryKeyConstraint('task_logs_pk', ['task_id', 'seq'])
    .execute();
}
