import type { Kysely } from 'kysely';

/**
 * The Unix identity of groups: a gid and its name, a uid range and a shared directory per group
 * (all optional, unique where set); every uid range ever handed out (`uid_ranges`, which outlives
 * its group so that a range is never given twice); and the uid each unlinked member got from a
 * group's range (`group_uids`, stable once given, unique across the cluster).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('groups').addColumn('unix_gid', 'integer').execute();
  await db.schema.alterTable('groups').addColumn('unix_group', 'text').execute();
  await db.schema.alterTable('groups').addColumn('uid_range_start', 'integer').execute();
  await db.schema.alterTable('groups').addColumn('uid_range_size', 'integer').execute();
  await db.schema.alterTable('groups').addColumn('shared_dir', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  // SQLite lets a unique index hold any number of NULLs: groups without a gid do not clash.
  await db.schema.createIndex('groups_by_unix_gid').unique().on('groups').column('unix_gid').execute();
  await db.schema.createIndex('groups_by_unix_group').unique().on('groups').column('unix_group').execute();

  await db.schema
    .createTable('uid_ranges')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('start', 'integer', (c) => c.notNull().unique())
    .addColumn('size', 'integer', (c) => c.notNull())
    // Kept when the group goes (set null): its range is never handed out again.
    .addColumn('group_id', 'integer', (c) => c.references('groups.id').onDelete('set null'))
    .addColumn('group_path', 'text', (c) => c.notNull())
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('group_uids')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('uid', 'integer', (c) => c.notNull().unique())
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_uids_pk', ['group_id', 'user_id'])
    .execute();
}
