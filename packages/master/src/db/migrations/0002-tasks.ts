import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tasks')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('run_uid', 'integer', (c) => c.notNull())
    .addColumn('run_user', 'text', (c) => c.notNull())
    .addColumn('run_gid', 'integer', (c) => c.notNull())
    .addColumn('run_group', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text')
    .addColumn('exit_code', 'integer')
    .addColumn('restarts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('kill_requested_at', 'integer')
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'integer')
    .addColumn('ended_at', 'integer')
    .execute();
  // One index per list query: newest first, filtered by kind and optionally by owner.
  await db.schema.createIndex('tasks_by_kind').on('tasks').columns(['kind', 'id']).execute();
  await db.schema.createIndex('tasks_by_kind_owner').on('tasks').columns(['kind', 'owner_id', 'id']).execute();
  await db.schema.createIndex('tasks_by_owner').on('tasks').columns(['owner_id', 'id']).execute();
  // The scheduler's queue scan.
  await db.schema.createIndex('tasks_by_state').on('tasks').columns(['state', 'id']).execute();

  await db.schema
    .createTable('task_logs')
    .addColumn('task_id', 'integer', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('line', 'text', (c) => c.notNull())
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('task_logs_pk', ['task_id', 'seq'])
    .execute();
}
