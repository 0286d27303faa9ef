import type { Kysely } from 'kysely';

/**
 * Resource pools (issue 22): the pool each task was submitted to and each agent serves (`default`
 * for everything from before, which is the pool master.yaml has unless it names others), a group's
 * default pool for its tasks that name none, and what a pool's manager placed a task's run as. Columns of their own only, plain text, so
 * that it lands in any order with the other branches' migrations and on any dialect.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('pool', 'text', (c) => c.notNull().defaultTo('default')).execute();
  await db.schema.alterTable('agents').addColumn('pool', 'text', (c) => c.notNull().defaultTo('default')).execute();
  await db.schema.alterTable('groups').addColumn('default_pool', 'text').execute();
  // What the pool's manager placed the current run as, when it is more than the agent and lease (a Slurm job id).
  await db.schema.alterTable('tasks').addColumn('placement', 'text').execute();
  // Each pool's manager asks for its own queue (and `yard pool list` counts it): QUEUED tasks of one pool, oldest first.
  await db.schema.createIndex('tasks_queued_by_pool').on('tasks').columns(['state', 'pool', 'id']).execute();
}
