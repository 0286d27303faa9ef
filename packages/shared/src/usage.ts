import { z } from 'zod';
import { TASK_KINDS, TASK_STATES, type TaskKind, type TaskState } from './constants.js';
import { resolvePeriodBound, USAGE_DIMENSIONS, type UsageDimension } from './usage-format.js';

export * from './usage-format.js';
import { groupPathSchema } from './group-path.js';
import { usernameSchema } from './users.js';

/**
 * Usage accounting (`yard usage`, `GET /usage`, the web UI's usage and overview pages): what each
 * run held and for how long, read from the master's usage ledger. Types and schemas here; the CSV
 * writer too, so the CLI's `-o csv` and the web UI's download are the same file.
 */

/**
 * One end of a period as people write it: `now`, a duration back from now (`30d`, `12h`, `90m`,
 * `2w`), or a date or time (`2025-05-01`, `2025-05-01T12:00Z`; a date alone is midnight UTC). The
 * master resolves it against its own clock, so every client means the same moment.
 */
export const periodBoundSchema = z
  .string({ error: 'must be a duration back from now such as "30d", a date such as "2025-05-01", or "now"' })
  .trim()
  .max(40)
  .refine((value) => resolvePeriodBound(value, 0) !== undefined, {
    error: (issue) => `"${String(issue.input)}" is not a duration back from now such as "30d" or "12h", a date such as "2025-05-01" or "2025-05-01T12:00Z", or "now"`,
  });

const dimensionsSchema = z
  .string({ error: `by must be a comma-separated list of ${USAGE_DIMENSIONS.join(', ')}` })
  .max(64)
  .transform((value, ctx) => {
    const parts = [...new Set(value.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean))];
    const unknown = parts.filter((p) => !(USAGE_DIMENSIONS as readonly string[]).includes(p));
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `by: unknown '${unknown.join("', '")}': report by ${USAGE_DIMENSIONS.join(', ')} (comma-separated)` });
      return z.NEVER;
    }
    return parts as UsageDimension[];
  });

const filters = {
  since: periodBoundSchema.default('30d'),
  until: periodBoundSchema.default('now'),
  /** Only this user's runs. */
  user: usernameSchema.optional(),
  /** Only the runs charged to this group (exactly this group: not its subgroups, as quotas count). */
  group: groupPathSchema.optional(),
  pool: z.string().trim().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'pool must be a pool name').optional(),
  kind: z.enum(TASK_KINDS, { error: `kind must be one of: ${TASK_KINDS.join(', ')}` }).optional(),
};

/** `GET /usage?since=30d&until=now&by=user,group&user=&group=&pool=&kind=`. */
export const usageQuerySchema = z.strictObject({ ...filters, by: dimensionsSchema.default(['user']) });
export type UsageQuery = z.input<typeof usageQuerySchema>;

/** `GET /usage/series?since=1d&by=user&step=1h`: the same filters, one dimension, in time buckets. */
export const usageSeriesQuerySchema = z.strictObject({
  ...filters,
  by: z.enum(USAGE_DIMENSIONS, { error: `by must be one of ${USAGE_DIMENSIONS.join(', ')}` }).default('user'),
  /** A bucket's length (`1h`, `1d`); left out, one that gives 24 to 60 buckets over the period. */
  step: z
    .string()
    .regex(/^\d{1,4}(m|h|d)$/, 'step must be a duration such as "15m", "1h" or "1d"')
    .optional(),
});
export type UsageSeriesQuery = z.input<typeof usageSeriesQuerySchema>;

/** The amounts of one row (or of the totals). */
export interface UsageAmounts {
  /** Distinct tasks with a run in the period. */
  tasks: number;
  /** Runs in the period (a restarted task has several). */
  runs: number;
  /** Runs still going at the end of the period (counted up to it). */
  running: number;
  cpuHours: number;
  gpuHours: number;
  memoryGibHours: number;
  /** Waits (queued to started) of the runs that started in the period; null when none did. */
  waitMedianSeconds: number | null;
  waitP95Seconds: number | null;
}

/** One line of a report: its keys (the `by` dimensions) and amounts. */
export interface UsageRow extends UsageAmounts {
  user?: string;
  /** null: runs charged to no group. */
  group?: string | null;
  pool?: string;
  kind?: TaskKind;
}

export interface UsageReport {
  since: string;
  until: string;
  by: UsageDimension[];
  /**
   * Whose runs the report could include: `all` (see_status), or the caller's own plus those charged to
   * the groups listed (see_status scoped to them). Filters narrow it further.
   */
  visible: { all: true } | { all: false; user: string; groups: string[] };
  rows: UsageRow[];
  totals: UsageAmounts;
}

export interface UsageSeries {
  since: string;
  until: string;
  by: UsageDimension;
  stepSeconds: number;
  /** Each bucket's start (ISO); the last bucket ends at `until`. */
  buckets: string[];
  /** One line per key, in each bucket: hours held, and run-hours (average running runs x step hours). */
  series: Array<{ key: string; cpuHours: number[]; gpuHours: number[]; memoryGibHours: number[]; runHours: number[] }>;
  visible: UsageReport['visible'];
}

/** One pool's capacity and what is allocated of it now. */
export interface PoolCapacity {
  name: string;
  agents: number;
  /** Agents alive and enabled: those that take work. */
  available: number;
  capacity: { cpu: number; gpus: number; memory: number };
  allocated: { cpu: number; gpus: number; memory: number };
}

export interface AgentCapacity {
  id: string;
  pool: string;
  state: string;
  enabled: boolean;
  capacity: { cpu: number; gpus: number; memory: number };
  allocated: { cpu: number; gpus: number; memory: number };
  tasks: number;
}

/** `GET /cluster`: the overview page's figures, now. */
export interface ClusterOverview {
  at: string;
  pools: PoolCapacity[];
  /** Each agent's capacity and allocation: only for holders of see_status (null otherwise). */
  agents: AgentCapacity[] | null;
  queue: { length: number; oldestQueuedAt: string | null; oldestWaitSeconds: number | null };
  running: { tasks: number; byUser: Array<{ user: string; tasks: number; cpu: number; gpus: number; memory: number }> };
  states: Partial<Record<TaskState, number>>;
}

/** One sample of the cluster (taken every minute by the master, kept eight days). */
export interface ClusterSample {
  at: string;
  pool: string;
  agents: number;
  cpuTotal: number;
  cpuAllocated: number;
  gpusTotal: number;
  gpusAllocated: number;
  memoryTotal: number;
  memoryAllocated: number;
  queued: number;
  oldestWaitSeconds: number | null;
  running: number;
}

export const clusterHistoryQuerySchema = z.strictObject({
  since: periodBoundSchema.default('1d'),
  until: periodBoundSchema.default('now'),
});

export interface ClusterHistory {
  since: string;
  until: string;
  /** Oldest first, every pool; the last ones are taken as the request is answered. */
  samples: ClusterSample[];
}

/** The task states a list can be filtered by (`?state=RUNNING,QUEUED`). */
export const taskStatesSchema = z
  .string()
  .max(200)
  .transform((value, ctx) => {
    const parts = [...new Set(value.split(',').map((p) => p.trim().toUpperCase()).filter(Boolean))];
    const unknown = parts.filter((p) => !(TASK_STATES as readonly string[]).includes(p));
    if (unknown.length > 0 || parts.length === 0) {
      ctx.addIssue({ code: 'custom', message: `state: unknown '${unknown.join("', '")}': the states are ${TASK_STATES.join(', ')} (comma-separated)` });
      return z.NEVER;
    }
    return parts as TaskState[];
  });
