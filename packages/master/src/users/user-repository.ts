import type { Db } from '../db/database.js';
import type { NewUserRow, UserRow } from '../db/schema.js';
import type { UnixIdentity } from '@trainyard/shared';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

export const userRepository = {
  findByName(db: Executor, username: string): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  },

  findById(db: Executor, id: number): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  },

  list(db: Db, afterId: number, limit: number): Promise<UserRow[]> {
    return db.selectFrom('users').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
  },

  count(db: Executor): Promise<number> {
    return db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  },

  countActiveAdmins(db: Executor): Promise<number> {
    return db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('admin', '=', 1)
      .where('active', '=', 1)
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  },

  insert(db: Executor, row: NewUserRow): Promise<UserRow> {
    return db.insertInto('users').values(row).returningAll().executeTakeFirstOrThrow();
  },

  update(
    db: Executor,
    id: number,
    changes: Partial<Pick<UserRow, 'active' | 'admin' | 'password_hash' | 'auth'>> & { updated_at: number },
  ): Promise<UserRow> {
    return db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  },

  setAgentUser(db: Executor, id: number, link: UnixIdentity | null, now: number): Promise<UserRow> {
    return db
      .updateTable('users')
      .set({
        agent_uid: link?.uid ?? null,
        agent_user: link?.user ?? null,
        agent_gid: link?.gid ?? null,
        agent_group: link?.group ?? null,
        updated_at: now,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  },
};
