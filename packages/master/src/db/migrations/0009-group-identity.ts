import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

/**
 * The Unix identity of groups: a gid and its name, a uid range and a shared directory per group
 * (all optional, unique where set); every uid range ever handed out (`uid_ranges`, which outlives
 * its group so that a range is never given twice); and the uid each unlinked member got from a
 * group's range (`group_uids`, stable once given, unique across the cluster).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema.alterTable('groups').addColumn('unix_gid', t.int).execute();
  await db.schema.alterTable('groups').addColumn('unix_group', 'text').execute();
  await db.schema.alterTable('groups').addColumn('uid_range_start', t.int).execute();
  await db.schema.alterTable('groups').addColumn('uid_range_size', t.int).execute();
  await db.schema.alterTable('groups').addColumn('shared_dir', t.bool, (c) => c.notNull().defaultTo(t.no)).execute();
  // SQLite lets a unique index hold any number of NULLs: groups without a gid do not clash.
  await db.schema.createIndex('groups_by_unix_gid').unique().on('groups').column('unix_gid').execute();
  await db.schema.createIndex('groups_by_unix_group').unique().on('groups').column('unix_group').execute();

  await db.schema
    .createTable('uid_ranges')
    .addColumn(...t.id('id'))
    .addColumn('start', t.int, (c) => c.notNull().unique())
    .addColumn('size', t.int, (c) => c.notNull())
    // Kept when the group goes (set null): its range is never handed out again.
    .addColumn('group_id', t.int, (c) => c.references('groups.id').onDelete('set null'))
    .addColumn('group_path', 'text', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('group_uids')
    .addColumn('group_id', t.int, (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('user_id', t.int, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('uid', t.int, (c) => c.notNull().unique())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addPrimaryKeyConstraint('group_uids_pk', ['group_id', 'user_id'])
    .execute();
}
