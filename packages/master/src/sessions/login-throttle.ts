import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { DomainError } from '../errors.js';

export interface LoginThrottleOptions {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  windowMs: number;
}

/**
 * Counts login attempts per username and per client address over a window. An attempt is
 * counted before any password is checked, so parallel guesses cannot all slip through while
 * hashes are computed or a directory answers; a success gives it back. Once either count runs
 * out, further attempts get 429 with Retry-After until the window passes.
 */
export class LoginThrottle {
  private readonly byUser: RateLimiterMemory;
  private readonly byAddress: RateLimiterMemory;

  constructor(options: LoginThrottleOptions) {
    const duration = Math.max(1, Math.ceil(options.windowMs / 1000));
    this.byUser = new RateLimiterMemory({ keyPrefix: 'user', points: options.maxFailuresPerUser, duration });
    this.byAddress = new RateLimiterMemory({ keyPrefix: 'addr', points: options.maxFailuresPerAddress, duration });
  }

  /** Takes one attempt for this user and address; throws TOO_MANY_REQUESTS when either has none left. */
  async attempt(username: string, address: string): Promise<void> {
    const results = await Promise.allSettled([this.byUser.consume(username), this.byAddress.consume(address)]);
    let waitMs = 0;
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      // rate-limiter-flexible rejects with its result object when the points ran out, with an Error otherwise.
      if (result.reason instanceof Error) throw result.reason;
      waitMs = Math.max(waitMs, (result.reason as RateLimiterRes).msBeforeNext);
    }
    if (results.some((result) => result.status === 'rejected')) {
      const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new DomainError('TOO_MANY_REQUESTS', `too many failed logins: try again in ${retryAfterSeconds} seconds`, {
        retryAfterSeconds,
      });
    }
  }

  /** A successful login: the user's count starts over, and the address gets its attempt back. */
  async succeeded(username: string, address: string): Promise<void> {
    await Promise.all([this.byUser.delete(username), this.byAddress.reward(address, 1)]);
  }

  /** The password could not be checked (a backend is down): the attempt is held against nobody. */
  async refund(username: string, address: string): Promise<void> {
    await Promise.all([this.byUser.reward(username, 1), this.byAddress.reward(address, 1)]);
  }
}
