/** Time, injectable so that 30-day expiry can be tested without waiting 30 days. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const toIso = (millis: number): string => new Date(millis).toISOString();

