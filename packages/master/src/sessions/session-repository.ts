import type { SessionKind } from '@trainyard/shared';
import { compileOnce } from '../db/compile-once.js';
import type { Executor } from '../db/database.js';
import { rowLock } from '../db/dialect.js';
import type { SessionRow } from '../db/schema.js';

export interface SessionRecord {
  id: number;
  userId: number;
  kind: SessionKind;
  client: string | null;
  address: string | null;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number;
}

/** The account a session belongs to, as much as authenticating a request needs. */
export interface SessionOwner {
  id: number;
  username: string;
  active: boolean;
}

export const sessionRepository = {
  /**
   * Whether the user is active with this password hash, holding their row against changes until
   * the transaction ends (a deactivation or password change waits, then ends the session too).
   */
  async lockOwner(trx: Executor, userId: number, passwordHash: string): Promise<boolean> {
    const query = trx.selectFrom('users').select('id').where('id', '=', userId).where('active', '=', 1).where('password_hash', '=', passwordHash);
    return (await rowLock(trx, query, 'share').executeTakeFirst()) !== undefined;
  },

  async insert(
    db: Executor,
    session: { tokenHash: string; userId: number; kind: SessionKind; client: string | null; address: string | null; now: number; expiresAt: number },
  ): Promise<SessionRecord> {
    const row = await db
      .insertInto('sessions')
      .values({
        token_hash: session.tokenHash,
        user_id: session.userId,
        kind: session.kind,
        client: session.client,
        address: session.address,
        created_at: session.now,
        expires_at: session.expiresAt,
        last_used_at: session.now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },

  /** The session for a token hash, with its user, in one query (every request runs it). */
  async findWithUser(db: Executor, tokenHash: string): Promise<{ session: SessionRecord; user: SessionOwner } | undefined> {
    const [row] = await sessionWithUser(db, tokenHash);
    return row && { session: toRecord(row), user: { id: row.user_id, username: row.username, active: row.active === 1 } };
  },

  async findById(db: Executor, id: number): Promise<(SessionRecord & { username: string }) | undefined> {
    const row = await db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('sessions')
      .select('users.username')
      .where('sessions.id', '=', id)
      .executeTakeFirst();
    return row && { ...toRecord(row), username: row.username };
  },

  /** Sessions of a user that have not expired, oldest first. */
  async listLive(db: Executor, userId: number, now: number): Promise<SessionRecord[]> {
    const rows = await db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('expires_at', '>', now)
      .orderBy('id')
      .execute();
    return rows.map(toRecord);
  },

  async touch(db: Executor, id: number, now: number): Promise<void> {
    await db.updateTable('sessions').set({ last_used_at: now }).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: number): Promise<void> {
    await db.deleteFrom('sessions').where('id', '=', id).execute();
  },

  /** Ends every session of a user, but `keepId` (the one asking, on a self password change). */
  async deleteForUser(db: Executor, userId: number, keepId?: number): Promise<number> {
    let query = db.deleteFrom('sessions').where('user_id', '=', userId);
    if (keepId !== undefined) query = query.where('id', '!=', keepId);
    return Number((await query.executeTakeFirst()).numDeletedRows);
  },

  async deleteExpired(db: Executor, now: number): Promise<void> {
    await db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
  },
};

/**
 * The session's columns by name, not `sessions.*`: on PostgreSQL this query is a prepared statement
 * kept per connection, and a column another master's newer migration adds to the table would change
 * `*`'s result type under it ("cached plan must not change result type") during a rolling upgrade.
 */
const SESSION_COLUMNS = [
  'sessions.id',
  'sessions.token_hash',
  'sessions.user_id',
  'sessions.kind',
  'sessions.created_at',
  'sessions.expires_at',
  'sessions.last_used_at',
  'sessions.client',
  'sessions.address',
] as const;

const sessionWithUser = compileOnce(
  (db: Executor, tokenHash: string) =>
    db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(SESSION_COLUMNS)
      .select(['users.username', 'users.active'])
      .where('sessions.token_hash', '=', tokenHash),
  ['compile-once: a token hash'],
);

function toRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    client: row.client,
    address: row.address,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
  };
}
