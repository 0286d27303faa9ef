import { AGENT_RECONNECT } from '@trainyard/shared';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with full jitter (each delay uniform in [0, min(max, initial x 2^n)), n the
 * retries so far): many agents that lost the master at the same moment come back spread out
 * rather than together, and never wait longer than `maxMs` between tries.
 */
export class Backoff {
  private retries = 0;

  constructor(
    private readonly options: BackoffOptions = AGENT_RECONNECT,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next try, and that try's number (1 for the first retry). */
  next(): { delayMs: number; attempt: number } {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.retries, 52));
    this.retries += 1;
    return { delayMs: this.random() * ceiling, attempt: this.retries };
  }

  /** The other side answered: the next failure starts from `initialMs` again. */
  reset(): void {
    this.retries = 0;
  }

  /** Retries so far since the last success. */
  get attempts(): number {
    return this.retries;
  }
}

/** `7.3 s`, as the agent's log says a delay. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
