import type { Kysely, Transaction } from 'kysely';
import type { Database, SessionRow, UserRow } from '../db/schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

export const sessionRepository = {
  insert(db: Executor, row: Omit<SessionRow, 'id'>): Promise<SessionRow> {
    return db.insertInto('sessions').values(row).returningAll().executeTakeFirstOrThrow();
  },

  /** The session for a token hash, with its user, in one query (every request runs it). */
  findWithUser(
    db: Executor,
    tokenHash: string,
  ): Promise<(SessionRow & { user: Pick<UserRow, 'id' | 'username' | 'admin' | 'active'> }) | undefined> {
    return db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select([
        'sessions.id',
        'sessions.token_hash',
        'sessions.user_id',
        'sessions.kind',
        'sessions.created_at',
        'sessions.expires_at',
        'sessions.last_used_at',
        'users.username',
        'users.admin',
        'users.active',
      ])
      .where('sessions.token_hash', '=', tokenHash)
      .executeTakeFirst()
      .then((row) =>
        row
          ? {
              id: row.id,
              token_hash: row.token_hash,
              user_id: row.user_id,
              kind: row.kind,
              created_at: row.created_at,
              expires_at: row.expires_at,
              last_used_at: row.last_used_at,
              user: { id: row.user_id, username: row.username, admin: row.admin, active: row.active },
            }
          : undefined,
      );
  },

  touch(db: Executor, id: number, now: number): Promise<unknown> {
    return db.updateTable('sessions').set({ last_used_at: now }).where('id', '=', id).execute();
  },

  delete(db: Executor, id: number): Promise<unknown> {
    return db.deleteFrom('sessions').where('id', '=', id).execute();
  },

  /** Ends every session of a user, but `keepId` (the one asking, on a self password change). */
  deleteForUser(db: Executor, userId: number, keepId?: number): Promise<unknown> {
    let query = db.deleteFrom('sessions').where('user_id', '=', userId);
    if (keepId !== undefined) query = query.where('id', '!=', keepId);
    return query.execute();
  },

  deleteExpired(db: Executor, now: number): Promise<unknown> {
    return db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
  },
};
