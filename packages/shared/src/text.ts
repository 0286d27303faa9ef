import { z } from 'zod';
import { CONTROL_CHARACTER } from './constants.js';

const RULE = 'must not contain control characters (NUL, escape sequences, line breaks, tabs) or bidirectional overrides';

/** The message for free text that holds a control character; names the field and the rule. */
export const controlCharMessage = (what: string) => `${what} ${RULE}`;

/** Refines any string schema so that it refuses control characters (see `CONTROL_CHARACTER`). */
export function refuseControlChars<S extends z.ZodType<string>>(schema: S, what: string): S {
  return schema.refine((text) => !CONTROL_CHARACTER.test(text), controlCharMessage(what)) as S;
}

/** Free text a person names something with: a string of at most `max` characters, no control characters. */
export function textSchema(what: string, max: number) {
  return refuseControlChars(
    z.string({ error: `${what} must be a string` }).max(max, `${what} must be at most ${max} characters`),
    what,
  );
}

/** A task's name, as its config and `PATCH /tasks/:id` give it. */
export const taskNameSchema = refuseControlChars(
  z.string({ error: 'name must be a string' }).trim().min(1, 'name cannot be empty').max(128, 'name must be at most 128 characters'),
  'name',
);
