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

  /** How far the ceiling has grown: retries that did not `hold` it. */
  private steps = 0;

  /**
   * The delay before the next try, and that try's number (1 for the first retry). `hold`: this
   * failure does not grow the ceiling (several masters in a failover: a new leader is seconds away,
   * and the standbys' refusals cost them nothing), so the agent finds it within `initialMs`.
   */
  next(options: { hold?: boolean } = {}): { delayMs: number; attempt: number } {
    const ceiling = options.hold ? this.options.initialMs : Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.steps, 52));
    if (!options.hold) this.steps += 1;
    this.retries += 1;
    return { delayMs: this.random() * ceiling, attempt: this.retries };
  }

  /** The other side answered: the next failure starts from `initialMs` again. */
  reset(): void {
    this.retries = 0;
    this.steps = 0;
  }

  /** Retries so far since the last success. */
  get attempts(): number {
    return this.retries;
  }
}

/** `7.3 s`, as the agent's log says a delay. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
