import type { Executor } from '../db/database.js';
import { rowLock } from '../db/dialect.js';
import type { ApiTokenRow } from '../db/schema.js';
import type { SessionOwner } from '../sessions/session-repository.js';

export interface ApiTokenRecord {
  id: number;
  userId: number;
  name: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

export const tokenRepository = {
  /** Whether the user is active, holding their row against a deactivation until the transaction ends. */
  async lockActiveOwner(trx: Executor, userId: number): Promise<boolean> {
    const query = trx.selectFrom('users').select('id').where('id', '=', userId).where('active', '=', 1);
    return (await rowLock(trx, query, 'share').executeTakeFirst()) !== undefined;
  },

  async insert(db: Executor, token: { userId: number; name: string; tokenHash: string; now: number; expiresAt: number | null }): Promise<ApiTokenRecord> {
    const row = await db
      .insertInto('api_tokens')
      .values({ user_id: token.userId, name: token.name, token_hash: token.tokenHash, created_at: token.now, expires_at: token.expiresAt, last_used_at: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },

  /** The token for a hash with its owner, in one query (every request with a token runs it). */
  async findWithUser(db: Executor, tokenHash: string): Promise<{ token: ApiTokenRecord; user: SessionOwner } | undefined> {
    const row = await db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .selectAll('api_tokens')
      .select(['users.username', 'users.active'])
      .where('api_tokens.token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row && { token: toRecord(row), user: { id: row.user_id, username: row.username, active: row.active === 1 } };
  },

  async findByName(db: Executor, userId: number, name: string): Promise<ApiTokenRecord | undefined> {
    const row = await db.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
    return row && toRecord(row);
  },

  async list(db: Executor, userId: number): Promise<ApiTokenRecord[]> {
    const rows = await db.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).orderBy('name').execute();
    return rows.map(toRecord);
  },

  async touch(db: Executor, id: number, now: number): Promise<void> {
    await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: number): Promise<void> {
    await db.deleteFrom('api_tokens').where('id', '=', id).execute();
  },

  async deleteForUser(db: Executor, userId: number): Promise<void> {
    await db.deleteFrom('api_tokens').where('user_id', '=', userId).execute();
  },
};

function toRecord(row: ApiTokenRow): ApiTokenRecord {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
  };
}
