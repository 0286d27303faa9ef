import ms from 'ms';
import { z } from 'zod';

/** Milliseconds for a duration like `30d`, `15m` or `90s` (as the `ms` package reads them); undefined if it is not one. */
export function parseDuration(value: string): number | undefined {
  const millis = ms(value as ms.StringValue);
  return typeof millis === 'number' && Number.isFinite(millis) && millis > 0 ? Math.round(millis) : undefined;
}

/** A duration like `30d`, `15m` or `90s`, or a number of seconds, in milliseconds. */
export const durationSchema = z
  .union([z.string(), z.number()], { error: 'must be a duration such as "30d", "15m" or "90s"' })
  .transform((value, ctx) => {
    const millis = typeof value === 'number' ? (Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : undefined) : parseDuration(value);
    if (millis === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a positive duration such as "30d", "15m" or "90s"` });
      return z.NEVER;
    }
    return millis;
  });
