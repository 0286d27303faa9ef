import type { Kysely } from 'kysely';

/**
 * The usage ledger (issue 25): one row per run (`usage_runs`), opened when the run starts and closed
 * when it ends, with what it held, its owner and group as they were then, and no foreign key, so that
 * it outlives the task, the group and any account change; the cluster's capacity sampled every
 * minute (`cluster_samples`, for the overview's charts); each task's history (`task_timeline`: the
 * states it went through, why it waited, a kill asked for; it goes with the task); and when a task
 * last entered the queue (`tasks.queued_at`: a run's wait). Tables and columns of its own only, so
 * that it lands in any order with the other branches' migrations. Times are epoch milliseconds.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('usage_runs')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('task_id', 'integer', (c) => c.notNull())
    .addColumn('owner_id', 'integer', (c) => c.notNull())
    .addColumn('owner_name', 'text', (c) => c.notNull())
    .addColumn('group_path', 'text')
    .addColumn('pool', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('task_name', 'text', (c) => c.notNull())
    .addColumn('cpu', 'real', (c) => c.notNull())
    .addColumn('memory', 'bigint', (c) => c.notNull())
    .addColumn('gpus', 'integer', (c) => c.notNull())
    .addColumn('agent_id', 'text')
    .addColumn('queued_at', 'bigint', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('wait_ms', 'bigint', (c) => c.notNull())
    // Null while the run goes on.
    .addColumn('ended_at', 'bigint')
    .addColumn('outcome', 'text')
    .addColumn('exit_code', 'integer')
    .execute();
  // A report reads the runs that overlap its period: ended after its start (or still going).
  await db.schema.createIndex('usage_runs_by_end').on('usage_runs').columns(['ended_at', 'started_at']).execute();
  await db.schema.createIndex('usage_runs_by_start').on('usage_runs').column('started_at').execute();
  // The open run of a task, closed when it ends.
  await db.schema.createIndex('usage_runs_by_task').on('usage_runs').columns(['task_id', 'ended_at']).execute();

  await db.schema
    .createTable('cluster_samples')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('pool', 'text', (c) => c.notNull())
    .addColumn('agents', 'integer', (c) => c.notNull())
    .addColumn('cpu_total', 'real', (c) => c.notNull())
    .addColumn('cpu_allocated', 'real', (c) => c.notNull())
    .addColumn('gpus_total', 'integer', (c) => c.notNull())
    .addColumn('gpus_allocated', 'integer', (c) => c.notNull())
    .addColumn('memory_total', 'bigint', (c) => c.notNull())
    .addColumn('memory_allocated', 'bigint', (c) => c.notNull())
    .addColumn('queued', 'integer', (c) => c.notNull())
    .addColumn('oldest_queued_at', 'bigint')
    .addColumn('running', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('cluster_samples_by_time').on('cluster_samples').columns(['at', 'pool']).execute();

  await db.schema
    .createTable('task_timeline')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('task_id', 'integer', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('task_timeline_by_task').on('task_timeline').columns(['task_id', 'id']).execute();

  await db.schema.alterTable('tasks').addColumn('queued_at', 'bigint').execute();

  // Runs going on as the ledger starts: opened now, from what the task holds (its current run began
  // at its last assignment: a restarted task keeps its first started_at).
  const running = await db
    .selectFrom('tasks')
    .innerJoin('users', 'users.id', 'tasks.owner_id')
    .select(['tasks.id', 'tasks.owner_id', 'users.username', 'tasks.group_path', 'tasks.kind', 'tasks.name', 'tasks.run_spec', 'tasks.agent_id'])
    .select(['tasks.created_at', 'tasks.started_at', 'tasks.assigned_at'])
    .where('tasks.state', '=', 'RUNNING')
    .execute();
  for (const task of running) {
    const resources = (JSON.parse(task.run_spec) as { resources?: { cpu?: number | null; gpus?: number; memory?: number | null } }).resources ?? {};
    const startedAt = Math.max(task.started_at ?? 0, task.assigned_at ?? 0) || task.created_at;
    await db
      .insertInto('usage_runs')
      .values({
        task_id: task.id,
        owner_id: task.owner_id,
        owner_name: task.username,
        group_path: task.group_path,
        pool: 'default',
        kind: task.kind,
        task_name: task.name,
        cpu: resources.cpu ?? 1,
        memory: resources.memory ?? 0,
        gpus: resources.gpus ?? 0,
        agent_id: task.agent_id,
        queued_at: task.created_at,
        started_at: startedAt,
        wait_ms: Math.max(0, startedAt - task.created_at),
      })
      .execute();
  }
}
