/** Time, injectable so that 30-day expiry can be tested without waiting 30 days. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const toIso = (millis: number): string => new Date(millis).toISOString();

/**
 * A moment given in a query: an ISO 8601 time (`2026-12-01T09:00:00Z`, `2026-12-01`), or a
 * duration back from `now` (`10m`, `2h`, `1d`: the master's clock, so a client's skew does not
 * matter). Undefined when it is neither.
 */
export function parseInstant(value: string, now: number): number | undefined {
  const text = value.trim();
  const duration = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/i.exec(text);
  if (duration) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[duration[2]!.toLowerCase() as 'ms'];
    return now - Math.round(Number(duration[1]) * unit);
  }
  // ISO 8601 only (a date, or a date and time): not Date.parse's other, locale-dependent forms.
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isFinite(at) ? at : undefined;
}
