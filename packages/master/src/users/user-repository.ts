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
  createdAt: number;
  updatedAt: number;
}

export const userRepository = {
  async findByName(db: Executor, username: string): Promise<UserRecord | undefined> {
    const row = await db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row && toRecord(row);
  },

  async findById(db: Executor, id: number): Promise<UserRecord | undefined> {
    const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  },

  async list(db: Executor, afterId: number, limit: number): Promise<UserRecord[]> {
    const rows = await db.selectFrom('users').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
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
    return toRecord(row);
  },

  async update(
    db: Executor,
    id: number,
    changes: { active?: boolean; passwordHash?: string; auth?: AuthBackendName; agentUser?: UnixIdentity | null; now: number },
  ): Promise<UserRecord> {
    const link = changes.agentUser;
    const row = await db
      .updateTable('users')
      .set({
        ...(changes.active === undefined ? {} : { active: changes.active ? 1 : 0 }),
        ...(changes.passwordHash === undefined ? {} : { password_hash: changes.passwordHash }),
        ...(changes.auth === undefined ? {} : { auth: changes.auth }),
        ...(link === undefined
          ? {}
          : { agent_uid: link?.uid ?? null, agent_user: link?.user ?? null, agent_gid: link?.gid ?? null, agent_group: link?.group ?? null }),
        updated_at: changes.now,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },
};

function toRecord(row: UserRow): UserRecord {
  const { agent_uid: uid, agent_user: user, agent_gid: gid, agent_group: group } = row;
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    active: row.active === 1,
    auth: row.auth,
    // The table's check constraint keeps the four columns all set or all null.
    agentUser: uid === null || user === null || gid === null || group === null ? null : { uid, user, gid, group },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
