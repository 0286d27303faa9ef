import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { DomainError } from '../errors.js';

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

/**
 * Limits password checks per username and per client address over a window. Each attempt is
 * counted (atomically: the counters live in this process and are bumped without awaiting) BEFORE
 * its password is checked by any backend (hashes, a directory, PAM), so parallel attempts cannot
 * all slip in before the first failure is recorded; a success gives its count back, and so does
 * an attempt whose backend could not answer. Once either counter is spent, further attempts get
 * 429 with Retry-After until the window passes, without their password being looked at.
 */
export class LoginThrottle {
  private readonly byUser: RateLimiterMemory;
  private readonly byAddress: RateLimiterMemory;

  constructor(options: LoginThrottleOptions) {
    const duration = Math.max(1, Math.ceil(options.windowMs / 1000));
    this.byUser = new RateLimiterMemory({ keyPrefix: 'user', points: options.maxFailuresPerUser, duration });
    this.byAddress = new RateLimiterMemory({ keyPrefix: 'addr', points: options.maxFailuresPerAddress, duration });
  }

  /** Counts one attempt, or throws TOO_MANY_REQUESTS (counting nothing) when none is left. */
  async reserve(username: string, address: string): Promise<LoginAttempt> {
    // Both consume() calls bump their counter before their promise settles: no await in between
    // can let another attempt see the old count.
    const [user, addr] = await Promise.allSettled([this.byUser.consume(username), this.byAddress.consume(address)]);
    if (user.status === 'rejected' || addr.status === 'rejected') {
      if (user.status === 'fulfilled') await this.byUser.reward(username);
      if (addr.status === 'fulfilled') await this.byAddress.reward(address);
      const limits = [user, addr].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      const failure = limits.find((r) => !(r instanceof RateLimiterRes));
      if (failure) throw failure; // the limiter itself failed; not a limit
      throw tooMany(limits as RateLimiterRes[]);
    }
    return {
      succeeded: async () => {
        // The right password forgives this user's earlier failures, as it always did.
        await Promise.all([this.byUser.delete(username), this.byAddress.reward(address)]);
      },
      refund: async () => {
        await Promise.all([this.byUser.reward(username), this.byAddress.reward(address)]);
      },
    };
  }
}

function tooMany(limits: RateLimiterRes[]): DomainError {
  const waitMs = Math.max(1000, ...limits.map((limit) => limit.msBeforeNext));
  const retryAfterSeconds = Math.ceil(waitMs / 1000);
  return new DomainError('TOO_MANY_REQUESTS', `too many failed logins: try again in ${retryAfterSeconds} seconds`, { retryAfterSeconds });
}
