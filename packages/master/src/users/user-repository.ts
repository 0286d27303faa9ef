import type { AuthBackendName, UnixIdentity } from '@trainyard/shared';
import type { Executor } from '../db/database.js';
import type { UserRow } from '../db/schema.js';

/** A user as the rest of the master sees one: booleans and the link as one value, never 0/1 or four columns. */
export interface UserRecord {
  id: number;
  username: string;
  /** argon2id for internal users; NO_PASSWORD for users whose password lives elsewhere. */
  passwordHash: string;
  active: boolean;
  /** Where the password is checked. */
  auth: AuthBackendName;
  agentUser: UnixIdentity | null;
  /** Where their tasks go when they name no group (they must still be a direct member when they create one). */
  defaultGroup: { id: number; path: string } | null;
  createdAt: number;
  updatedAt: number;
}

/** Users with the path of their default group (the groups table is read for the name only). */
const withDefaultGroup = (db: Executor) =>
  db.selectFrom('users').leftJoin('groups', 'groups.id', 'users.default_group_id').selectAll('users').select('groups.path as default_group_path');

export const userRepository = {
  async findByName(db: Executor, username: string): Promise<UserRecord | undefined> {
    const row = await withDefaultGroup(db).where('users.username', '=', username).executeTakeFirst();
    return row && toRecord(row);
  },

  async findById(db: Executor, id: number): Promise<UserRecord | undefined> {
    const row = await withDefaultGroup(db).where('users.id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  },

  async list(db: Executor, afterId: number, limit: number): Promise<UserRecord[]> {
    const rows = await withDefaultGroup(db).where('users.id', '>', afterId).orderBy('users.id').limit(limit).execute();
    return rows.map(toRecord);
  },

  async count(db: Executor): Promise<number> {
    const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  },

  /** How many of `ids` are active users. */
  async countActive(db: Executor, ids: number[]): Promise<number> {
    if (ids.length === 0) return 0;
    const row = await db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('id', 'in', ids)
      .where('active', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  },

  async insert(
    db: Executor,
    user: { username: string; passwordHash: string; active: boolean; auth: AuthBackendName; agentUser?: UnixIdentity; now: number },
  ): Promise<UserRecord> {
    const link = user.agentUser;
    const row = await db
      .insertInto('users')
      .values({
        username: user.username,
        password_hash: user.passwordHash,
        active: user.active ? 1 : 0,
        auth: user.auth,
        ...(link ? { agent_uid: link.uid, agent_user: link.user, agent_gid: link.gid, agent_group: link.group } : {}),
        created_at: user.now,
        updated_at: user.now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord({ ...row, default_group_path: null });
  },

  async update(
    db: Executor,
    id: number,
    changes: {
      active?: boolean;
      passwordHash?: string;
      auth?: AuthBackendName;
      agentUser?: UnixIdentity | null;
      defaultGroupId?: number | null;
      now: number;
    },
  ): Promise<UserRecord> {
    const link = changes.agentUser;
    await db
      .updateTable('users')
      .set({
        ...(changes.active === undefined ? {} : { active: changes.active ? 1 : 0 }),
        ...(changes.passwordHash === undefined ? {} : { password_hash: changes.passwordHash }),
        ...(changes.auth === undefined ? {} : { auth: changes.auth }),
        ...(link === undefined
          ? {}
          : { agent_uid: link?.uid ?? null, agent_user: link?.user ?? null, agent_gid: link?.gid ?? null, agent_group: link?.group ?? null }),
        ...(changes.defaultGroupId === undefined ? {} : { default_group_id: changes.defaultGroupId }),
        updated_at: changes.now,
      })
      .where('id', '=', id)
      .execute();
    return (await userRepository.findById(db, id))!;
  },
};

function toRecord(row: UserRow & { default_group_path: string | null }): UserRecord {
  const { agent_uid: uid, agent_user: user, agent_gid: gid, agent_group: group } = row;
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    active: row.active === 1,
    auth: row.auth,
    // The table's check constraint keeps the four columns all set or all null.
    agentUser: uid === null || user === null || gid === null || group === null ? null : { uid, user, gid, group },
    defaultGroup: row.default_group_id === null || row.default_group_path === null ? null : { id: row.default_group_id, path: row.default_group_path },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
