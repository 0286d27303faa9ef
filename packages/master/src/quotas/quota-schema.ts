import { groupPathSchema, parseByteSize, poolNameSchema, quotaNameSchema, usernameSchema } from '@trainyard/shared';
import { z } from 'zod';
import { parseDuration } from '../config/duration.js';

// Bounds well above any real cluster: a value past them is a typo (or an attack), not a limit.
const MAX_TASKS = 1_000_000;
const MAX_CPUS = 1_000_000;
const MAX_GPUS = 100_000;
const MAX_MEMORY = 2 ** 60;
const MAX_RUNTIME_MS = 366 * 24 * 3600 * 1000;

const count = (what: string, max: number) =>
  z.number({ error: `${what} must be a whole number` }).int(`${what} must be a whole number`).min(0, `${what} cannot be negative`).max(max, `${what} is absurd (at most ${max})`);

const memory = z.union([z.string(), z.number()], { error: 'memory must be a size such as "64GiB" or a number of bytes' }).transform((value, ctx) => {
  const bytes = parseByteSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `memory "${value}" is not a size such as "64GiB", "500M" or a number of bytes (and cannot be negative)` });
    return z.NEVER;
  }
  if (bytes > MAX_MEMORY) {
    ctx.addIssue({ code: 'custom', message: `memory "${value}" is absurd (at most 1EiB)` });
    return z.NEVER;
  }
  return bytes;
});

const runtime = z.union([z.string(), z.number()], { error: 'maxRuntime must be a duration such as "2h" or a number of seconds' }).transform((value, ctx) => {
  const millis = typeof value === 'number' ? (Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : undefined) : parseDuration(value);
  if (millis === undefined) {
    ctx.addIssue({ code: 'custom', message: `maxRuntime "${value}" is not a positive duration such as "2h", "30m" or "90s"` });
    return z.NEVER;
  }
  if (millis > MAX_RUNTIME_MS) {
    ctx.addIssue({ code: 'custom', message: `maxRuntime "${value}" is absurd (at most 366d)` });
    return z.NEVER;
  }
  return millis;
});

const MAX_HOURS = 100_000_000;
const hours = (what: string) =>
  z.number({ error: `${what} must be a number of hours` }).positive(`${what} must be more than 0`).max(MAX_HOURS, `${what} is absurd (at most ${MAX_HOURS})`);

/** A budget's window: `month` (the calendar month, UTC) or a rolling duration from 1h to 366d. */
const budgetWindow = z.string({ error: 'window must be a duration such as "30d" or "month"' }).transform((value, ctx) => {
  if (value === 'month') return { calendar: 'month' as const, ms: null };
  const millis = parseDuration(value);
  if (millis === undefined || millis < 3_600_000 || millis > MAX_RUNTIME_MS) {
    ctx.addIssue({ code: 'custom', message: `window "${value}" is not "month" or a rolling duration from 1h to 366d (such as "30d", "7d", "12h")` });
    return z.NEVER;
  }
  return { calendar: null, ms: millis };
});

/** Each member's cap inside a group quota: a number (the one dispatch limit the quota sets) or the limits by name. */
const perUser = z.union(
  [
    count('perUser', MAX_GPUS).positive('perUser must be more than 0'),
    z.strictObject({
      maxRunning: count('perUser.maxRunning', MAX_TASKS).nullable().optional(),
      cpu: z.number({ error: 'perUser.cpu must be a number of CPUs' }).positive('perUser.cpu must be more than 0').max(MAX_CPUS).nullable().optional(),
      memory: memory.nullable().optional(),
      gpus: count('perUser.gpus', MAX_GPUS).nullable().optional(),
    }),
  ],
  { error: 'perUser must be a number or {maxRunning, cpu, memory, gpus}' },
);

const limitFields = {
  maxRunning: count('maxRunning', MAX_TASKS).nullable().optional(),
  maxSubmitted: count('maxSubmitted', MAX_TASKS).nullable().optional(),
  cpu: z.number({ error: 'cpu must be a number of CPUs' }).positive('cpu must be more than 0').max(MAX_CPUS, `cpu is absurd (at most ${MAX_CPUS})`).nullable().optional(),
  memory: memory.nullable().optional(),
  gpus: count('gpus', MAX_GPUS).nullable().optional(),
  maxRuntime: runtime.nullable().optional(),
  denyOnLimit: z.boolean({ error: 'denyOnLimit must be true or false' }).optional(),
  perUser: perUser.nullable().optional(),
  pool: poolNameSchema.nullable().optional(),
  gpuHours: hours('gpuHours').nullable().optional(),
  cpuHours: hours('cpuHours').nullable().optional(),
  window: budgetWindow.nullable().optional(),
};

/** `POST /quotas`: a name and at least one limit. Unknown resources are refused (strict). */
export const createQuotaSchema = z
  .strictObject({ name: quotaNameSchema, ...limitFields })
  .refine((q) => [q.maxRunning, q.maxSubmitted, q.cpu, q.memory, q.gpus, q.maxRuntime, q.gpuHours, q.cpuHours].some((v) => v !== undefined && v !== null), {
    message: 'a quota needs at least one limit: maxRunning, maxSubmitted, cpu, memory, gpus, maxRuntime, gpuHours or cpuHours',
  });

/** `PATCH /quotas/:name`: the limits to change; null removes one. */
export const updateQuotaSchema = z.strictObject(limitFields);

export const quotaNameParamSchema = z.strictObject({ name: quotaNameSchema });

/** A user or a group, exactly one. */
export const quotaPrincipalSchema = z
  .strictObject({ user: usernameSchema.optional(), group: groupPathSchema.optional() })
  .refine((p) => (p.user === undefined) !== (p.group === undefined), { message: 'give a user or a group (exactly one)' });

export const quotaUsageQuerySchema = z
  .strictObject({ user: usernameSchema.optional(), group: groupPathSchema.optional() })
  .refine((p) => p.user === undefined || p.group === undefined, { message: 'give a user or a group, not both' });

export type CreateQuota = z.output<typeof createQuotaSchema>;
export type UpdateQuota = z.output<typeof updateQuotaSchema>;

const guaranteeAmount = (what: string) =>
  z.number({ error: `${what} must be a number` }).min(0, `${what} cannot be negative`).max(MAX_CPUS, `${what} is absurd (at most ${MAX_CPUS})`);
const guaranteeLimits = (what: string) =>
  z.strictObject({ gpus: guaranteeAmount(`${what}.gpus`).nullable().optional(), cpu: guaranteeAmount(`${what}.cpu`).nullable().optional() });

/** `PUT /guarantees`: a group's guaranteed share of a pool; what is left out stays as it was (null clears it). */
export const setGuaranteeSchema = z.strictObject({
  group: groupPathSchema,
  pool: poolNameSchema,
  gpus: guaranteeAmount('gpus').nullable().optional(),
  cpu: guaranteeAmount('cpu').nullable().optional(),
  borrowingLimit: guaranteeLimits('borrowingLimit').optional(),
  lendingLimit: guaranteeLimits('lendingLimit').optional(),
});
export const guaranteeKeySchema = z.strictObject({ group: groupPathSchema, pool: poolNameSchema });
export const guaranteeListQuerySchema = z.strictObject({ group: groupPathSchema.optional(), pool: poolNameSchema.optional() });

export type SetGuarantee = z.output<typeof setGuaranteeSchema>;
