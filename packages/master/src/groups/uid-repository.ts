import type { Executor } from '../db/database.js';
import { holdLock } from '../db/dialect.js';

export interface RecordedRange {
  start: number;
  size: number;
  /** The group's path when it was handed out (the group may be gone, or renamed, since). */
  groupPath: string;
}

/**
 * Every uid range ever handed out (kept after its group is deleted) and the uids given to unlinked
 * members from their group's range. Written only by the groups domain.
 */
export const uidRepository = {
  /** Holds every range and gid handed out until the transaction ends (db/dialect.ts `holdLock`). */
  lockRanges(trx: Executor): Promise<void> {
    return holdLock(trx, 'uidRanges');
  },

  /** Holds the uids of one group's members until the transaction ends. */
  lockGroupUids(trx: Executor, groupId: number): Promise<void> {
    return holdLock(trx, 'groupUids', groupId);
  },

  /** The first recorded range that shares a uid with `[start, start + size)`. */
  async overlapping(db: Executor, start: number, size: number): Promise<RecordedRange | undefined> {
    const row = await db
      .selectFrom('uid_ranges')
      .select(['start', 'size', 'group_path'])
      .where('start', '<', start + size)
      .where((eb) => eb(eb('start', '+', eb.ref('size')), '>', start))
      .orderBy('start')
      .executeTakeFirst();
    return row && { start: row.start, size: row.size, groupPath: row.group_path };
  },

  /** The end (exclusive) of the highest range ever handed out, or undefined when none was. */
  async highWater(db: Executor): Promise<number | undefined> {
    const row = await db
      .selectFrom('uid_ranges')
      .select((eb) => eb.fn.max(eb('start', '+', eb.ref('size'))).as('end'))
      .executeTakeFirst();
    return row?.end === null || row?.end === undefined ? undefined : Number(row.end);
  },

  async record(db: Executor, range: { start: number; size: number; groupId: number; groupPath: string; now: number }): Promise<void> {
    await db
      .insertInto('uid_ranges')
      .values({ start: range.start, size: range.size, group_id: range.groupId, group_path: range.groupPath, created_at: range.now })
      .execute();
  },

  async uidOf(db: Executor, groupId: number, userId: number): Promise<number | undefined> {
    const row = await db.selectFrom('group_uids').select('uid').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
    return row?.uid;
  },

  /** The highest uid given in a group so far. */
  async maxUid(db: Executor, groupId: number): Promise<number | undefined> {
    const row = await db.selectFrom('group_uids').select((eb) => eb.fn.max('uid').as('uid')).where('group_id', '=', groupId).executeTakeFirst();
    return row?.uid === null || row?.uid === undefined ? undefined : Number(row.uid);
  },

  async countIn(db: Executor, groupId: number): Promise<number> {
    const row = await db.selectFrom('group_uids').select((eb) => eb.fn.countAll<number>().as('n')).where('group_id', '=', groupId).executeTakeFirst();
    return Number(row?.n ?? 0);
  },

  /** Whether some user's agent-user link names this uid (read only: the users domain owns the table). */
  async isLinked(db: Executor, uid: number): Promise<boolean> {
    const row = await db.selectFrom('users').select('id').where('agent_uid', '=', uid).executeTakeFirst();
    return row !== undefined;
  },

  /** Who was given `uid` from a group's range, and by which group (names read for the message). */
  async owner(db: Executor, uid: number): Promise<{ userId: number; username: string; groupPath: string } | undefined> {
    const row = await db
      .selectFrom('group_uids as g')
      .innerJoin('users as u', 'u.id', 'g.user_id')
      .innerJoin('groups as gr', 'gr.id', 'g.group_id')
      .select(['g.user_id', 'u.username', 'gr.path'])
      .where('g.uid', '=', uid)
      .executeTakeFirst();
    return row && { userId: row.user_id, username: row.username, groupPath: row.path };
  },

  async insertUid(db: Executor, groupId: number, userId: number, uid: number, now: number): Promise<void> {
    await db.insertInto('group_uids').values({ group_id: groupId, user_id: userId, uid, created_at: now }).execute();
  },

  async allocated(db: Executor, groupId: number): Promise<Array<{ username: string; uid: number }>> {
    return db
      .selectFrom('group_uids as g')
      .innerJoin('users as u', 'u.id', 'g.user_id')
      .select(['u.username', 'g.uid'])
      .where('g.group_id', '=', groupId)
      .orderBy('g.uid')
      .execute();
  },
};
