import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('agent_tokens')
    .addColumn(...t.id('id'))
    .addColumn('name', t.nocaseText, (c) => c.notNull().unique())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', t.int, (c) => c.references('users.id'))
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('last_used_at', t.time)
    .addColumn('revoked_at', t.time)
    .execute();

  await db.schema
    .createTable('agents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_id', t.int, (c) => c.references('agent_tokens.id'))
    .addColumn('executor', 'text', (c) => c.notNull())
    .addColumn('resources', 'text', (c) => c.notNull())
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('enabled', t.bool, (c) => c.notNull().defaultTo(t.yes))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('registered_at', t.time, (c) => c.notNull())
    .addColumn('last_heartbeat_at', t.time, (c) => c.notNull())
    .execute();

  // A lease ties one assignment of a task to one agent; the agent must acknowledge it before it runs.
  await db.schema.alterTable('tasks').addColumn('lease_id', 'text').execute();
  await db.schema.alterTable('tasks').addColumn('assigned_at', t.time).execute();
  await db.schema.alterTable('tasks').addColumn('lease_acked_at', t.time).execute();
  await db.schema.alterTable('tasks').addColumn('log_offset', t.int, (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('tasks').addColumn('message', 'text').execute();
  await db.schema.createIndex('tasks_by_agent_state').on('tasks').columns(['agent_id', 'state']).execute();
}
