import { sql } from 'kysely';
import type { Executor } from '../db/database.js';

/** A counter of login attempts as it stands after a change. */
export interface AttemptCount {
  attempts: number;
  windowEndsAt: number;
}

/** The login throttle's counters (`login_failures`), one per user name or client address. */
export const loginFailureRepository = {
  /**
   * Counts one attempt against `key` in one statement, and returns the count: a new window of
   * `windowMs` when the counter has none running. On PostgreSQL the upsert holds the row until
   * the transaction ends, so that parallel attempts, from any master, are counted one after another.
   */
  async count(db: Executor, key: string, now: number, windowMs: number): Promise<AttemptCount> {
    const windowEndsAt = now + windowMs;
    const ended = sql<boolean>`login_failures.window_ends_at <= cast(${now} as bigint)`;
    const row = await db
      .insertInto('login_failures')
      .values({ key, attempts: 1, window_ends_at: windowEndsAt })
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet({
          attempts: sql<number>`case when ${ended} then 1 else login_failures.attempts + 1 end`,
          window_ends_at: sql<number>`case when ${ended} then cast(${windowEndsAt} as bigint) else login_failures.window_ends_at end`,
        }),
      )
      .returning(['attempts', 'window_ends_at'])
      .executeTakeFirstOrThrow();
    return { attempts: Number(row.attempts), windowEndsAt: Number(row.window_ends_at) };
  },

  /** Gives one attempt back to a counter whose window still runs. */
  async uncount(db: Executor, key: string, now: number): Promise<void> {
    await db
      .updateTable('login_failures')
      .set({ attempts: sql<number>`attempts - 1` })
      .where('key', '=', key)
      .where('attempts', '>', 0)
      .where('window_ends_at', '>', now)
      .execute();
  },

  async clear(db: Executor, key: string): Promise<void> {
    await db.deleteFrom('login_failures').where('key', '=', key).execute();
  },

  /** Removes the counters whose window has ended (they count nothing any more). */
  async sweep(db: Executor, now: number): Promise<number> {
    const result = await db.deleteFrom('login_failures').where('window_ends_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
