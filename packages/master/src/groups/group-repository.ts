import { sql } from 'kysely';
import type { Executor } from '../db/database.js';
import { holdLock } from '../db/dialect.js';
import type { GroupRow } from '../db/schema.js';

export interface GroupRecord {
  id: number;
  path: string;
  parentId: number | null;
  createdAt: number;
  updatedAt: number;
  unix: GroupUnix;
  /** The pool its tasks go to when they name none (0011-pools); null: the system's default_pool. */
  defaultPool: string | null;
  /** Its share in hierarchical fair share (0026-scheduling). */
  fairShareWeight: number;
}

/** A node of the tree of groups, as the scheduler walks it (quotas down the tree, Fair Tree). */
export interface GroupNode {
  id: number;
  path: string;
  parentId: number | null;
  fairShareWeight: number;
}

/** A group's Unix identity (0009-group-identity): each part optional. */
export interface GroupUnix {
  gid: number | null;
  unixGroup: string | null;
  uidRange: { start: number; size: number } | null;
  sharedDir: boolean;
}

export interface GroupListRecord extends GroupRecord {
  parent: string | null;
  memberCount: number;
  subgroupCount: number;
}

/**
 * Groups and their members. Member names are read with a join on users (read only: the users
 * domain owns that table); nothing here writes outside groups and group_members.
 */
export const groupRepository = {
  /** Holds the tree of groups (creating, moving, deleting: paths and parents) until the transaction ends. */
  lockTree(trx: Executor): Promise<void> {
    return holdLock(trx, 'groupTree');
  },

  async findByPath(db: Executor, path: string): Promise<GroupRecord | undefined> {
    const row = await db.selectFrom('groups').selectAll().where('path', '=', path).executeTakeFirst();
    return row && toRecord(row);
  },

  /** Every group (or the one at `path`) with its parent's path and its counts, in path order. */
  async list(db: Executor, path?: string): Promise<GroupListRecord[]> {
    let query = db
      .selectFrom('groups as g')
      .leftJoin('groups as p', 'p.id', 'g.parent_id')
      .selectAll('g')
      .select((eb) => [
        'p.path as parent',
        eb.selectFrom('group_members as m').select((e) => e.fn.countAll<number>().as('n')).whereRef('m.group_id', '=', 'g.id').as('member_count'),
        eb.selectFrom('groups as s').select((e) => e.fn.countAll<number>().as('n')).whereRef('s.parent_id', '=', 'g.id').as('subgroup_count'),
      ]);
    if (path !== undefined) query = query.where('g.path', '=', path);
    const rows = await query.orderBy('g.path').execute();
    return rows.map((row) => ({
      ...toRecord(row),
      parent: row.parent,
      memberCount: Number(row.member_count ?? 0),
      subgroupCount: Number(row.subgroup_count ?? 0),
    }));
  },

  async insert(db: Executor, group: { path: string; parentId: number | null; now: number }): Promise<GroupRecord> {
    const row = await db
      .insertInto('groups')
      .values({ path: group.path, parent_id: group.parentId, created_at: group.now, updated_at: group.now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },

  /** Moves a group to `path` under `parentId`; its subgroups' paths follow. Returns how many subgroups moved. */
  async move(db: Executor, group: GroupRecord, path: string, parentId: number | null, now: number): Promise<number> {
    const prefix = `${group.path}/`;
    // substr, not LIKE: "_" in a path would be a LIKE wildcard.
    const moved = await db
      .updateTable('groups')
      .set({ path: sql<string>`${path} || substr(path, ${prefix.length})`, updated_at: now })
      .where(sql<string>`substr(path, 1, ${prefix.length})`, '=', prefix)
      .executeTakeFirst();
    await db.updateTable('groups').set({ path, parent_id: parentId, updated_at: now }).where('id', '=', group.id).execute();
    return Number(moved.numUpdatedRows);
  },

  async findByIds(db: Executor, ids: number[]): Promise<GroupRecord[]> {
    if (ids.length === 0) return [];
    const rows = await db.selectFrom('groups').selectAll().where('id', 'in', ids).orderBy('path').execute();
    return rows.map(toRecord);
  },

  /** The group holding a gid or Unix group name, for telling which group a clash is with. */
  async findByUnix(db: Executor, unix: { gid?: number; unixGroup?: string }): Promise<GroupRecord | undefined> {
    let query = db.selectFrom('groups').selectAll();
    if (unix.gid !== undefined) query = query.where('unix_gid', '=', unix.gid);
    else if (unix.unixGroup !== undefined) query = query.where('unix_group', '=', unix.unixGroup);
    else return undefined;
    const row = await query.executeTakeFirst();
    return row && toRecord(row);
  },

  async setUnix(db: Executor, id: number, unix: GroupUnix, now: number): Promise<void> {
    await db
      .updateTable('groups')
      .set({
        unix_gid: unix.gid,
        unix_group: unix.unixGroup,
        uid_range_start: unix.uidRange?.start ?? null,
        uid_range_size: unix.uidRange?.size ?? null,
        shared_dir: unix.sharedDir ? 1 : 0,
        updated_at: now,
      })
      .where('id', '=', id)
      .execute();
  },

  /** Every group as a node of the tree (id, path, parent, fair-share weight). */
  tree(db: Executor): Promise<GroupNode[]> {
    return db.selectFrom('groups').select(['id', 'path', 'parent_id as parentId', 'fair_share_weight as fairShareWeight']).orderBy('path').execute();
  },

  async setFairShareWeight(db: Executor, id: number, weight: number, now: number): Promise<void> {
    await db.updateTable('groups').set({ fair_share_weight: weight, updated_at: now }).where('id', '=', id).execute();
  },

  async setDefaultPool(db: Executor, id: number, pool: string | null, now: number): Promise<void> {
    await db.updateTable('groups').set({ default_pool: pool, updated_at: now }).where('id', '=', id).execute();
  },

  async defaultPoolOf(db: Executor, id: number): Promise<string | null> {
    const row = await db.selectFrom('groups').select('default_pool').where('id', '=', id).executeTakeFirst();
    return row?.default_pool ?? null;
  },

  async delete(db: Executor, id: number): Promise<void> {
    await db.deleteFrom('groups').where('id', '=', id).execute();
  },

  async subgroupPaths(db: Executor, id: number): Promise<string[]> {
    const rows = await db.selectFrom('groups').select('path').where('parent_id', '=', id).orderBy('path').execute();
    return rows.map((r) => r.path);
  },

  async memberNames(db: Executor, groupId: number): Promise<string[]> {
    const rows = await db
      .selectFrom('group_members as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select('u.username')
      .where('m.group_id', '=', groupId)
      .orderBy('u.username')
      .execute();
    return rows.map((r) => r.username);
  },

  async isMember(db: Executor, groupId: number, userId: number): Promise<boolean> {
    const row = await db
      .selectFrom('group_members')
      .select('user_id')
      .where('group_id', '=', groupId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  },

  async addMember(db: Executor, groupId: number, userId: number, now: number): Promise<void> {
    await db.insertInto('group_members').values({ group_id: groupId, user_id: userId, created_at: now }).execute();
  },

  async removeMember(db: Executor, groupId: number, userId: number): Promise<boolean> {
    const result = await db.deleteFrom('group_members').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  },

  /** The groups each of `userIds` is a direct member of, in path order. */
  async pathsOf(db: Executor, userIds: number[]): Promise<Map<number, string[]>> {
    const byUser = new Map<number, string[]>();
    if (userIds.length === 0) return byUser;
    const rows = await db
      .selectFrom('group_members as m')
      .innerJoin('groups as g', 'g.id', 'm.group_id')
      .select(['m.user_id', 'g.path'])
      .where('m.user_id', 'in', userIds)
      .orderBy('g.path')
      .execute();
    for (const row of rows) byUser.set(row.user_id, [...(byUser.get(row.user_id) ?? []), row.path]);
    return byUser;
  },

  async idsOf(db: Executor, userId: number): Promise<number[]> {
    const rows = await db.selectFrom('group_members').select('group_id').where('user_id', '=', userId).execute();
    return rows.map((r) => r.group_id);
  },
};

function toRecord(row: GroupRow): GroupRecord {
  return {
    id: row.id,
    path: row.path,
    parentId: row.parent_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    unix: {
      gid: row.unix_gid,
      unixGroup: row.unix_group,
      uidRange: row.uid_range_start === null || row.uid_range_size === null ? null : { start: row.uid_range_start, size: row.uid_range_size },
      sharedDir: row.shared_dir === 1,
    },
    defaultPool: row.default_pool,
    fairShareWeight: row.fair_share_weight,
  };
}
