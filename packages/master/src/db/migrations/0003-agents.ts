import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('agent_tokens')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', sql`text collate nocase`, (c) => c.notNull().unique())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'integer', (c) => c.references('users.id'))
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .addColumn('last_used_at', 'integer')
    .addColumn('revoked_at', 'integer')
    .execute();

  await db.schema
    .createTable('agents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_id', 'integer', (c) => c.references('agent_tokens.id'))
    .addColumn('executor', 'text', (c) => c.notNull())
    .addColumn('resources', 'text', (c) => c.notNull())
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('registered_at', 'integer', (c) => c.notNull())
    .addColumn('last_heartbeat_at', 'integer', (c) => c.notNull())
    .execute();

  // A lease ties one assignment of a task to one agent; the agent must acknowledge it before it runs.
  await db.schema.alterTable('tasks').addColumn('lease_id', 'text').execute();
  await db.schema.alterTable('tasks').addColumn('assigned_at', 'integer').execute();
  await db.schema.alterTable('tasks').addColumn('lease_acked_at', 'integer').execute();
  await db.schema.alterTable('tasks').addColumn('log_offset', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('tasks').addColumn('message', 'text').execute();
  await db.schema.createIndex('tasks_by_agent_state').on('tasks').columns(['agent_id', 'state']).execute();
}
