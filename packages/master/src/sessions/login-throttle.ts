import { RateLimiterMemory } from 'rate-limiter-flexible';
import { DomainError } from '../errors.js';

export interface LoginThrottleOptions {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  windowMs: number;
}

/**
 * Counts failed logins per username and per client address over a window; once either
 * runs out, further attempts get 429 with Retry-After until the window passes.
 */
export class LoginThrottle {
  private readonly byUser: RateLimiterMemory;
  private readonly byAddress: RateLimiterMemory;

  constructor(private readonly options: LoginThrottleOptions) {
    const duration = Math.max(1, Math.ceil(options.windowMs / 1000));
    this.byUser = new RateLimiterMemory({ keyPrefix: 'user', points: options.maxFailuresPerUser, duration });
    this.byAddress = new RateLimiterMemory({ keyPrefix: 'addr', points: options.maxFailuresPerAddress, duration });
  }

  /** Throws TOO_MANY_REQUESTS when this user or address has no attempts left. */
  async check(username: string, address: string): Promise<void> {
    const [user, addr] = await Promise.all([this.byUser.get(username), this.byAddress.get(address)]);
    const blocked = [
      user && user.consumedPoints >= this.options.maxFailuresPerUser ? user.msBeforeNext : 0,
      addr && addr.consumedPoints >= this.options.maxFailuresPerAddress ? addr.msBeforeNext : 0,
    ];
    const waitMs = Math.max(...blocked);
    if (waitMs > 0) {
      const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new DomainError(
        'TOO_MANY_REQUESTS',
        `too many failed logins: try again in ${retryAfterSeconds} seconds`,
        { retryAfterSeconds },
      );
    }
  }

  async recordFailure(username: string, address: string): Promise<void> {
    await Promise.all([this.byUser.penalty(username, 1), this.byAddress.penalty(address, 1)]);
  }

  async recordSuccess(username: string): Promise<void> {
    await this.byUser.delete(username);
  }
}
