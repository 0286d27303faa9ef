import { sql, type Kysely } from 'kysely';
import { columnTypes, prepareStore } from '../column-types.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  await prepareStore(db);
  const t = columnTypes(db);
  await db.schema
    .createTable('users')
    .addColumn(...t.id('id'))
    // Case-insensitive: "Alice" and "alice" are one user.
    .addColumn('username', t.nocaseText, (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('admin', t.bool, (c) => c.notNull().defaultTo(t.no))
    .addColumn('active', t.bool, (c) => c.notNull().defaultTo(t.yes))
    .addColumn('agent_uid', t.int)
    .addColumn('agent_user', 'text')
    .addColumn('agent_gid', t.int)
    .addColumn('agent_group', 'text')
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    // A link is all four fields or none.
    .addCheckConstraint(
      'agent_link_complete',
      sql`(agent_uid is null) = (agent_user is null) and (agent_uid is null) = (agent_gid is null) and (agent_uid is null) = (agent_group is null)`,
    )
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn(...t.id('id'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', t.int, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('expires_at', t.time, (c) => c.notNull())
    .addColumn('last_used_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_by_user').on('sessions').column('user_id').execute();
  await db.schema.createIndex('sessions_by_expiry').on('sessions').column('expires_at').execute();
}
