import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { DomainError } from '../errors.js';
import { loginFailureRepository as counters, type AttemptCount } from './login-failure-repository.js';

export interface LoginThrottleOptions {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  windowMs: number;
}

/** An attempt counted against a user and an address; a successful one is given back. */
export interface LoginAttempt {
  succeeded(): Promise<void>;
  /** The password could not be checked (its backend is down): the attempt is held against nobody. */
  refund(): Promise<void>;
}

/** How often ended windows are swept from the store, at most. */
const SWEEP_EVERY_MS = 60_000;

/**
 * Limits password checks per username and per client address over a window. Each attempt is
 * counted BEFORE its password is checked by any backend (hashes, a directory, PAM), so parallel
 * attempts cannot all slip in before the first failure is recorded; a success gives its count
 * back, and so does an attempt whose backend could not answer. Once either counter is spent,
 * further attempts get 429 with Retry-After until its window passes, without their password being
 * looked at, and without being counted.
 *
 * The counters live in the store (`login_failures`), not in a master's memory: several masters on
 * one PostgreSQL share one budget (an attacker gains nothing by spreading guesses over them), and a
 * restart does not reset it. Both counters are bumped in one transaction, the user's first, so that
 * parallel attempts on any master are counted one after another and never deadlock.
 */
export class LoginThrottle {
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly deps: { db: Db; clock: Clock; logger: Logger },
    private readonly options: LoginThrottleOptions,
  ) {}

  /** Counts one attempt, or throws TOO_MANY_REQUESTS (counting nothing) when none is left. */
  async reserve(username: string, address: string): Promise<LoginAttempt> {
    const { db, clock } = this.deps;
    const { maxFailuresPerUser, maxFailuresPerAddress, windowMs } = this.options;
    const userKey = `user:${username}`;
    const addressKey = `addr:${address}`;
    const now = clock.now();
    this.sweepNowAndThen(now);
    await db.transaction().execute(async (trx) => {
      const spent: AttemptCount[] = [];
      const user = await counters.count(trx, userKey, now, windowMs);
      if (user.attempts > maxFailuresPerUser) spent.push(user);
      const addr = await counters.count(trx, addressKey, now, windowMs);
      if (addr.attempts > maxFailuresPerAddress) spent.push(addr);
      // Thrown inside the transaction: it rolls back, and the refused attempt counts nothing.
      if (spent.length > 0) throw tooMany(Math.max(...spent.map((c) => c.windowEndsAt)) - now);
    });
    return {
      succeeded: async () => {
        // The right password forgives this user's earlier failures, as it always did.
        await counters.clear(db, userKey);
        await counters.uncount(db, addressKey, clock.now());
      },
      refund: async () => {
        await counters.uncount(db, userKey, clock.now());
        await counters.uncount(db, addressKey, clock.now());
      },
    };
  }

  /** Ended windows count nothing; they are removed once a minute at most, off the login's path. */
  private sweepNowAndThen(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    counters.sweep(this.deps.db, now).catch((error: unknown) => {
      // Another master sweeping the same rows at once, or a store that is away: the next sweep takes them.
      this.deps.logger.debug({ err: error }, 'sweeping ended login-throttle windows failed');
    });
  }
}

function tooMany(waitMs: number): DomainError {
  const retryAfterSeconds = Math.ceil(Math.max(1000, waitMs) / 1000);
  return new DomainError('TOO_MANY_REQUESTS', `too many failed logins: try again in ${retryAfterSeconds} seconds`, { retryAfterSeconds });
}
