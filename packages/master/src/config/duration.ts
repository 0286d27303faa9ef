import ms from 'ms';
import { z } from 'zod';

/** A duration like `30d`, `15m` or `90s` (as the `ms` package reads them), in milliseconds. */
export const durationSchema = z
  .union([z.string(), z.number()], { error: 'must be a duration such as "30d", "15m" or "90s"' })
  .transform((value, ctx) => {
    const millis = typeof value === 'number' ? value * 1000 : ms(value as ms.StringValue);
    if (typeof millis !== 'number' || !Number.isFinite(millis) || millis <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a positive duration such as "30d", "15m" or "90s"` });
      return z.NEVER;
    }
    return Math.round(millis);
  });
