import { sql, type Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

// Written out, not imported: a migration must do the same thing forever, whatever the code says later.
// (The master re-syncs the built-in roles' capabilities at every start.)
const ALL_CAPABILITIES = [
  'see_status',
  'change_config',
  'operate_others',
  'delete_tasks',
  'access_api',
  'customize_resources',
  'use_any_image',
];

/**
 * The access model: groups with members, roles made of capabilities, assignments (to a user or a
 * group, optionally scoped to a group), personal API tokens, the audit log, and where sessions come
 * from. The `users.admin` flag becomes an assignment of the built-in `admin` role, in place.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('groups')
    .addColumn(...t.id('id'))
    .addColumn('path', 'text', (c) => c.notNull().unique())
    .addColumn('parent_id', t.int, (c) => c.references('groups.id'))
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('groups_by_parent').on('groups').column('parent_id').execute();

  await db.schema
    .createTable('group_members')
    .addColumn('group_id', t.int, (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('user_id', t.int, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'user_id'])
    .execute();
  // Every request looks up the caller's groups by user.
  await db.schema.createIndex('group_members_by_user').on('group_members').columns(['user_id', 'group_id']).execute();

  await db.schema
    .createTable('roles')
    .addColumn(...t.id('id'))
    .addColumn('name', t.nocaseText, (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('builtin', t.bool, (c) => c.notNull().defaultTo(t.no))
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('role_capabilities')
    .addColumn('role_id', t.int, (c) => c.notNull().references('roles.id').onDelete('cascade'))
    .addColumn('capability', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('role_capabilities_pk', ['role_id', 'capability'])
    .execute();

  // Deleting a role, user or group takes its assignments with it; so does deleting the scope
  // group, since an assignment that lost its scope must not silently become unscoped.
  await db.schema
    .createTable('role_assignments')
    .addColumn(...t.id('id'))
    .addColumn('role_id', t.int, (c) => c.notNull().references('roles.id').onDelete('cascade'))
    .addColumn('user_id', t.int, (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('group_id', t.int, (c) => c.references('groups.id').onDelete('cascade'))
    .addColumn('scope_group_id', t.int, (c) => c.references('groups.id').onDelete('cascade'))
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addCheckConstraint('assignment_has_one_holder', sql`(user_id is null) <> (group_id is null)`)
    .execute();
  await db.schema.createIndex('role_assignments_by_user').on('role_assignments').columns(['user_id', 'role_id']).execute();
  await db.schema.createIndex('role_assignments_by_group').on('role_assignments').columns(['group_id', 'role_id']).execute();
  await db.schema.createIndex('role_assignments_by_role').on('role_assignments').column('role_id').execute();
  await db.schema.createIndex('role_assignments_by_scope').on('role_assignments').column('scope_group_id').execute();
  // NULLs are distinct in unique indexes: coalesce them so that one assignment exists once.
  await sql`create unique index role_assignments_unique on role_assignments
    (role_id, coalesce(user_id, 0), coalesce(group_id, 0), coalesce(scope_group_id, 0))`.execute(db);

  await db.schema
    .createTable('api_tokens')
    .addColumn(...t.id('id'))
    .addColumn('user_id', t.int, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', t.nocaseText, (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('expires_at', t.time)
    .addColumn('last_used_at', t.time)
    .addUniqueConstraint('api_tokens_name_per_user', ['user_id', 'name'])
    .execute();

  await db.schema.alterTable('sessions').addColumn('client', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('address', 'text').execute();

  await db.schema
    .createTable('audit_log')
    .addColumn(...t.id('id'))
    .addColumn('at', t.time, (c) => c.notNull())
    .addColumn('actor_id', t.int, (c) => c.references('users.id').onDelete('set null'))
    .addColumn('actor_name', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_by_time').on('audit_log').columns(['at', 'id']).execute();
  await db.schema.createIndex('audit_by_actor').on('audit_log').columns(['actor_id', 'id']).execute();
  await db.schema.createIndex('audit_by_target').on('audit_log').columns(['target_type', 'target', 'id']).execute();

  // The built-in roles, then the old flag as assignments: admins hold `admin`, everyone `user`
  // (the default role of new users), and the audit log says where they came from.
  const now = Date.now();
  const builtins = [
    { name: 'admin', description: 'every capability; built in', capabilities: ALL_CAPABILITIES },
    { name: 'user', description: 'no capabilities beyond working with your own tasks; built in', capabilities: [] },
  ];
  const roleIds: Record<string, number> = {};
  for (const role of builtins) {
    const { id } = await db
      .insertInto('roles')
      .values({ name: role.name, description: role.description, builtin: 1, created_at: now, updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    roleIds[role.name] = id;
    for (const capability of role.capabilities) {
      await db.insertInto('role_capabilities').values({ role_id: id, capability }).execute();
    }
  }
  const users: Array<{ id: number; username: string; admin: number }> = await db
    .selectFrom('users')
    .select(['id', 'username', 'admin'])
    .orderBy('id')
    .execute();
  for (const user of users) {
    const roles = user.admin === 1 ? ['user', 'admin'] : ['user'];
    for (const role of roles) {
      await db.insertInto('role_assignments').values({ role_id: roleIds[role], user_id: user.id, created_at: now }).execute();
    }
    if (user.admin === 1) {
      await db
        .insertInto('audit_log')
        .values({
          at: now,
          actor_id: null,
          actor_name: null,
          action: 'role.assign',
          target_type: 'user',
          target: user.username,
          details: JSON.stringify({ role: 'admin', scope: null, reason: 'migration 0005-access-model: the admin flag became the admin role' }),
        })
        .execute();
    }
  }
  await db.schema.alterTable('users').dropColumn('admin').execute();
}
