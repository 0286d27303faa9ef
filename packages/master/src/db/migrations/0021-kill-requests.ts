import type { Kysely } from 'kysely';

/**
 * Who asked for a task's kill (issue 21): the user's name, or null when the master itself did (its
 * reason is `kill_reason`, from 0008). A column of its own only, so that it lands in any order with
 * the other branches' migrations. Kills asked before it have neither: "not recorded".
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('kill_requested_by', 'text').execute();
}
