import type { Kysely } from 'kysely';

/**
 * Agent tokens scoped to one task's lease (issue 22): the credential a resource manager hands the
 * one-shot agent it starts inside a job (Slurm). A token with a task_id acts only as that task's
 * one-shot agent, only while the task holds that lease. Numbered after the issue, not in sequence,
 * so that branches adding migrations in parallel do not collide (the migrator allows any order).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('agent_tokens').addColumn('task_id', 'integer').execute();
  await db.schema.alterTable('agent_tokens').addColumn('lease_id', 'text').execute();
  await db.schema.createIndex('agent_tokens_by_task').on('agent_tokens').column('task_id').execute();
}
