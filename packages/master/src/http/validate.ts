import type { z } from 'zod';

/** Parses input against a schema from packages/shared; a ZodError becomes INVALID_INPUT upstream. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  return schema.parse(value ?? {});
}
