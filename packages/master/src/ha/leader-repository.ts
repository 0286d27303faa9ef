import { sql, type Insertable } from 'kysely';
import { databaseNowMs, rowLock } from '../db/dialect.js';
import type { Executor } from '../db/database.js';
import type { LeaseGrantsTable, LeaderTermsTable } from '../db/schema.js';

/** The lease as read, with the database's clock at the moment of reading. */
export interface LeaseRecord {
  holder: string | null;
  url: string | null;
  fencing: number;
  expiresAt: number;
  /** The database's clock when this was read. */
  now: number;
}

const LEASE = 1;

/**
 * The `leader` row (one lease for the whole cluster), the terms it went through, and which term
 * granted each task's lease (migration 0023). Times are the database's clock: the masters' own
 * clocks never decide when a lease ran out.
 */
export const leaderRepository = {
  /** The row exists from the first master that starts with `ha` on: made here, not by the migration (a fresh store stays empty for `db copy`). */
  async ensure(db: Executor): Promise<void> {
    await db
      .insertInto('leader')
      .values({ id: LEASE, holder: null, url: null, fencing: 0, acquired_at: null, renewed_at: null, expires_at: 0 })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  },

  async read(db: Executor): Promise<LeaseRecord | undefined> {
    const row = await db
      .selectFrom('leader')
      .select(['holder', 'url', 'fencing', 'expires_at'])
      .select(databaseNowMs(db).as('now'))
      .where('id', '=', LEASE)
      .executeTakeFirst();
    return row && { holder: row.holder, url: row.url, fencing: row.fencing, expiresAt: row.expires_at, now: Number(row.now) };
  },

  /**
   * Takes the lease when it ran out (or `holder` holds it already: a master taking it back after it
   * stopped trusting its own renewal), under a fencing number one higher, and records the term.
   * Undefined when another master holds it.
   */
  async acquire(db: Executor, holder: string, url: string, ttlMs: number): Promise<{ fencing: number; startedAt: number } | undefined> {
    return db.transaction().execute(async (trx) => {
      const current = await rowLock(
        trx,
        trx.selectFrom('leader').select(['holder', 'fencing', 'expires_at']).select(databaseNowMs(trx).as('now')).where('id', '=', LEASE),
      ).executeTakeFirst();
      if (!current) return undefined;
      const now = Number(current.now);
      if (current.expires_at >= now && current.holder !== holder) return undefined;
      const fencing = current.fencing + 1;
      await trx
        .updateTable('leader')
        .set({ holder, url, fencing, acquired_at: now, renewed_at: now, expires_at: now + ttlMs })
        .where('id', '=', LEASE)
        .execute();
      const term: Insertable<LeaderTermsTable> = {
        fencing,
        holder,
        url,
        started_at: now,
        previous_expired_at: current.holder === null ? null : current.expires_at,
      };
      await trx.insertInto('leader_terms').values(term).execute();
      return { fencing, startedAt: now };
    });
  },

  /** Extends the lease by `ttlMs` from the database's now; false when `holder` no longer holds it under `fencing`. */
  async renew(db: Executor, holder: string, fencing: number, ttlMs: number): Promise<boolean> {
    const now = databaseNowMs(db);
    const result = await db
      .updateTable('leader')
      .set({ renewed_at: now, expires_at: sql<number>`${now} + ${ttlMs}` })
      .where('id', '=', LEASE)
      .where('holder', '=', holder)
      .where('fencing', '=', fencing)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /** Ends the lease now (a master stopping): a standby takes it at its next look instead of waiting for it to run out. */
  async resign(db: Executor, holder: string, fencing: number): Promise<void> {
    await db
      .updateTable('leader')
      .set({ expires_at: databaseNowMs(db) })
      .where('id', '=', LEASE)
      .where('holder', '=', holder)
      .where('fencing', '=', fencing)
      .execute();
  },

  /**
   * The fencing number as it stands, with the row held (`for share`) until the transaction ends: a
   * takeover (which updates the row) waits for this transaction, and one that committed first is seen.
   */
  async holdFencing(trx: Executor): Promise<{ fencing: number; url: string | null } | undefined> {
    return rowLock(trx, trx.selectFrom('leader').select(['fencing', 'url']).where('id', '=', LEASE), 'share').executeTakeFirst();
  },

  async recordGrant(trx: Executor, grant: Insertable<LeaseGrantsTable>): Promise<void> {
    await trx.insertInto('lease_grants').values(grant).execute();
  },
};
