/**
 * Quotas and fair sharing (issue 14): named limits assigned to users (each user's own tasks) and to
 * groups (the aggregate of the tasks created in the group), and the pending reasons the scheduler
 * records for tasks that wait. No zod here (the CLI and the web UI load it through constants); the
 * master validates requests (quotas/quota-schema.ts).
 */
import { formatByteSize } from './byte-size.js';

/** What a quota can limit. `max_submitted` refuses at creation; the rest make tasks wait (or refuse, with deny_on_limit). */
export const QUOTA_LIMITS = ['max_running', 'max_submitted', 'cpu', 'memory', 'gpus', 'max_runtime'] as const;
export type QuotaLimitName = (typeof QUOTA_LIMITS)[number];

/** The limits checked at dispatch (summed over the principal's running tasks), as they appear in pending reasons. */
export const DISPATCH_RESOURCES = ['running', 'cpu', 'memory', 'gpus'] as const;
export type DispatchResource = (typeof DISPATCH_RESOURCES)[number];

/**
 * What each member of a group may hold at most inside a group quota (issue 26: `--per-user`): the
 * group may use 16 GPUs and no one person more than 4. Null: no cap on that resource.
 */
export interface PerUserLimits {
  maxRunning: number | null;
  cpu: number | null;
  memory: number | null;
  gpus: number | null;
}

/** A budget's window: a rolling duration (`30d`, `1d`, `12h`) or the calendar month (`month`, UTC). */
export type BudgetWindow = string;

export interface QuotaLimits {
  /** Tasks assigned or running at once. */
  maxRunning: number | null;
  /** Tasks queued, assigned or running at once: more is refused at creation. */
  maxSubmitted: number | null;
  /** CPUs asked for by running tasks (a task that names none counts as 1). */
  cpu: number | null;
  /** Bytes of memory asked for by running tasks. */
  memory: number | null;
  gpus: number | null;
  /** Milliseconds a task may run (from RUNNING) before it is killed with RUNTIME_LIMIT. */
  maxRuntimeMs: number | null;
  /** Each member's share inside a group quota (null: none); on a user's own quota it is the same as the limits. */
  perUser: PerUserLimits | null;
  /** Only tasks in this pool count, and only they are held (null: every pool). */
  pool: string | null;
  /** GPU-hours over `budgetWindow` (Slurm's GrpTRESMins, rolling): the usage ledger's runs, those still going up to now. */
  gpuHours: number | null;
  /** CPU-hours over `budgetWindow` (a run that asks no CPU counts one). */
  cpuHours: number | null;
  /** The budgets' window (`30d`, `month`); null when the quota has no budget. */
  budgetWindow: BudgetWindow | null;
}

export interface QuotaAssignment {
  quota: string;
  user: string | null;
  group: string | null;
}

export interface Quota extends QuotaLimits {
  name: string;
  /** Refuse at creation what would have to wait for this quota, instead of queueing it. */
  denyOnLimit: boolean;
  assignments: QuotaAssignment[];
  createdAt: string;
  updatedAt: string;
}

/** `POST /quotas` and `PATCH /quotas/:name` (null clears a limit). Sizes as "16GiB", durations as "2h" (a number: seconds). */
export interface QuotaRequest {
  name?: string;
  maxRunning?: number | null;
  maxSubmitted?: number | null;
  cpu?: number | null;
  memory?: string | number | null;
  gpus?: number | null;
  maxRuntime?: string | number | null;
  denyOnLimit?: boolean;
  /**
   * Each member's cap inside the quota: a number caps the one dispatch limit the quota sets
   * (`--gpus 4 --per-user 2`), an object names them (`{gpus: 2, maxRunning: 3}`); null removes them.
   */
  perUser?: number | { maxRunning?: number | null; cpu?: number | null; memory?: string | number | null; gpus?: number | null } | null;
  /** Count and hold only the tasks of this pool (null: every pool). */
  pool?: string | null;
  gpuHours?: number | null;
  cpuHours?: number | null;
  /** `30d` (rolling; the default once a budget is set), `12h`, `month` (calendar month, UTC). */
  window?: string | null;
}

/** One limit of one quota as it applies to a principal: how much is in use, and the limit. */
export interface QuotaUsageLine {
  resource: 'running' | 'submitted' | 'cpu' | 'memory' | 'gpus' | 'max_runtime' | 'gpu_hours' | 'cpu_hours';
  used: number | null;
  limit: number;
  /** `per user`: the cap on each member (used: this user's, or the largest member's for a group); `30d`, `month`: a budget's window. */
  scope?: string;
}

/** `GET /quota-usage`: the quotas covering a user (their own, their groups') or a group, with usage. */
export interface QuotaUsage {
  user: string | null;
  group: string | null;
  quotas: Array<{ quota: string; via: string; denyOnLimit: boolean; lines: QuotaUsageLine[] }>;
  /** The user's fair-share usage (GPU- and CPU-seconds, decayed), when a user was asked for. */
  fairShare: { cpuSeconds: number; gpuSeconds: number; score: number } | null;
  /** The guarantees of the group (or of the user's groups and the groups above them): guaranteed, in use, borrowed, lent. */
  guarantees: GuaranteeStatus[];
}

/** `GET /queue`: queued tasks in the order the scheduler will try them. */
export interface QueueEntry {
  position: number;
  id: number;
  name: string;
  owner: string;
  group: string | null;
  /** The resource pool it waits for. */
  pool: string;
  createdAt: string;
  /** The owner's fair-share score (decayed CPU-seconds + gpu_weight x GPU-seconds, rounded), as `quota show` gives it; shown under fifo too. */
  usage: number;
  /** The owner's own order (`--priority`, -100..100): higher first among the owner's tasks, never ahead of others'. */
  priority: number;
  /** False for `--no-preempt`: it never borrows, and is never preempted. */
  preemptible: boolean;
  pendingReason: string | null;
}

export interface QueueView {
  policy: 'fifo' | 'fair_share';
  items: QueueEntry[];
  /** Every guarantee with what its group holds, borrows and lends now. */
  guarantees: GuaranteeStatus[];
}

/** What guarantees, borrowing and lending are counted in. */
export const GUARANTEE_RESOURCES = ['gpus', 'cpu'] as const;
export type GuaranteeResource = (typeof GUARANTEE_RESOURCES)[number];
/** An amount per guaranteed resource; null: not governed (a guarantee of GPUs says nothing of CPUs). */
export type GuaranteeAmounts = Record<GuaranteeResource, number | null>;

/**
 * A group's guaranteed share of a pool (Kueue's nominal quota, on Trainyard's groups): its tasks
 * may always use that much; beyond it they borrow what its siblings (the groups with a guarantee
 * in the same pool under the same parent: its cohort) leave idle, up to `borrowingLimit`; a
 * sibling lends at most its `lendingLimit`. Borrowed tasks are preempted when the lender needs
 * them back; tasks that may not be preempted never borrow.
 */
export interface Guarantee {
  group: string;
  pool: string;
  guaranteed: GuaranteeAmounts;
  /** The most it may borrow beyond its guarantee (null: no limit but what its siblings lend). */
  borrowingLimit: GuaranteeAmounts;
  /** The most of its idle guarantee its siblings may borrow (null: all of it). */
  lendingLimit: GuaranteeAmounts;
  createdAt: string;
  updatedAt: string;
}

/** A guarantee with what its group's subtree holds in the pool now. */
export interface GuaranteeStatus extends Guarantee {
  /** Its cohort: the parent group's path, or null for top-level groups. */
  cohort: string | null;
  inUse: Record<GuaranteeResource, number>;
  /** In use beyond its guarantee (borrowed from its siblings). */
  borrowed: Record<GuaranteeResource, number>;
  /** Of its guarantee, what its siblings hold now. */
  lent: Record<GuaranteeResource, number>;
}

/** `PUT /guarantees`: set (create or change) a group's guarantee in a pool. */
export interface GuaranteeRequest {
  group: string;
  pool: string;
  gpus?: number | null;
  cpu?: number | null;
  borrowingLimit?: Partial<GuaranteeAmounts>;
  lendingLimit?: Partial<GuaranteeAmounts>;
}

/**
 * Why a queued task waits, as the scheduler records it: `QUOTA_<RESOURCE>_USER` (the owner's own
 * quota), `QUOTA_<RESOURCE>_GROUP:<path>` (the group's aggregate), `NO_AGENT_FITS` (no agent has
 * the room, the image, a shared root it needs, or, on the process executor, its port free right now),
 * `POOL_GONE` (its pool is no longer one of master.yaml's pools), `SLURM_PENDING_JOBS` (its Slurm pool
 * already has `max_pending_jobs` jobs waiting in Slurm's queue), `SLURM_UNAVAILABLE` (its Slurm pool's
 * slurmrestd does not answer). Stable codes: scripts may match them. A pool's resource manager adds its
 * engine's own, prefixed with the engine, on a task it placed that the engine holds (a Slurm pool's
 * `SLURM:Resources`, `SLURM:Priority`: Slurm's reason, in its words).
 */
export const PENDING_REASONS = [
  'QUOTA_RUNNING_USER',
  'QUOTA_CPU_USER',
  'QUOTA_MEMORY_USER',
  'QUOTA_GPUS_USER',
  'QUOTA_RUNNING_GROUP',
  'QUOTA_CPU_GROUP',
  'QUOTA_MEMORY_GROUP',
  'QUOTA_GPUS_GROUP',
  // The owner's share of a group quota (`--per-user`): `QUOTA_GPUS_PER_USER:research`.
  'QUOTA_RUNNING_PER_USER',
  'QUOTA_CPU_PER_USER',
  'QUOTA_MEMORY_PER_USER',
  'QUOTA_GPUS_PER_USER',
  // Budgets over time: `BUDGET_GPU_HOURS_USER`, `BUDGET_CPU_HOURS_GROUP:research`.
  'BUDGET_GPU_HOURS_USER',
  'BUDGET_CPU_HOURS_USER',
  'BUDGET_GPU_HOURS_GROUP',
  'BUDGET_CPU_HOURS_GROUP',
  // Guarantees (`:<group path>`): past the guarantee and may not be preempted, so it does not borrow;
  // past the borrowing limit; nothing idle to borrow among its siblings.
  'NO_BORROW_GPUS',
  'NO_BORROW_CPU',
  'BORROW_LIMIT_GPUS',
  'BORROW_LIMIT_CPU',
  'COHORT_GPUS',
  'COHORT_CPU',
  'NO_AGENT_FITS',
  'POOL_GONE',
  'SLURM_PENDING_JOBS',
  'SLURM_UNAVAILABLE',
] as const;
export type PendingReasonCode = (typeof PENDING_REASONS)[number];

/** "2h", "30m", "90s": a limit's duration as people write it. */
export function formatLimitDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

/** "max_running=2 gpus=4 memory=64Gi max_runtime=2h": a quota's limits on one line (CLI and web UI). */
export function formatQuotaLimits(q: QuotaLimits): string {
  const per = q.perUser;
  return [
    q.maxRunning === null ? '' : `max_running=${q.maxRunning}`,
    q.maxSubmitted === null ? '' : `max_submitted=${q.maxSubmitted}`,
    q.cpu === null ? '' : `cpu=${q.cpu}`,
    q.memory === null ? '' : `memory=${formatByteSize(q.memory)}`,
    q.gpus === null ? '' : `gpus=${q.gpus}`,
    q.maxRuntimeMs === null ? '' : `max_runtime=${formatLimitDuration(q.maxRuntimeMs)}`,
    per === null || per === undefined ? '' : `per_user(${formatPerUser(per)})`,
    q.gpuHours === null || q.gpuHours === undefined ? '' : `gpu_hours=${q.gpuHours}/${q.budgetWindow}`,
    q.cpuHours === null || q.cpuHours === undefined ? '' : `cpu_hours=${q.cpuHours}/${q.budgetWindow}`,
    q.pool === null || q.pool === undefined ? '' : `pool=${q.pool}`,
  ]
    .filter(Boolean)
    .join(' ');
}

/** "gpus=2 max_running=3": a quota's per-user caps. */
export function formatPerUser(per: PerUserLimits): string {
  return [
    per.maxRunning === null ? '' : `max_running=${per.maxRunning}`,
    per.cpu === null ? '' : `cpu=${per.cpu}`,
    per.memory === null ? '' : `memory=${formatByteSize(per.memory)}`,
    per.gpus === null ? '' : `gpus=${per.gpus}`,
  ]
    .filter(Boolean)
    .join(' ');
}

/** "gpus=2 cpu=16", "-" when none: a guarantee's amounts. */
export function formatGuaranteeAmounts(amounts: Partial<Record<GuaranteeResource, number | null>>): string {
  const parts = GUARANTEE_RESOURCES.filter((r) => amounts[r] !== null && amounts[r] !== undefined).map((r) => `${r}=${round3(amounts[r]!)}`);
  return parts.length === 0 ? '-' : parts.join(' ');
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** One usage line's amount for people: memory as a size, max_runtime as a duration, hours to 0.01, '-' for none. */
export function formatUsageAmount(line: Pick<QuotaUsageLine, 'resource'>, value: number | null): string {
  if (value === null) return '-';
  if (line.resource === 'memory') return formatByteSize(value);
  if (line.resource === 'max_runtime') return formatLimitDuration(value);
  if (line.resource === 'gpu_hours' || line.resource === 'cpu_hours') return String(Math.round(value * 100) / 100);
  return String(round3(value));
}

/** `QUOTA_GPUS_GROUP:research`, `QUOTA_RUNNING_USER`. */
export function quotaPendingReason(resource: DispatchResource, group: string | null): string {
  const code = `QUOTA_${resource.toUpperCase()}_${group === null ? 'USER' : 'GROUP'}`;
  return group === null ? code : `${code}:${group}`;
}

/** `QUOTA_GPUS_PER_USER:research`: the owner's share of group research's quota. */
export function perUserPendingReason(resource: DispatchResource, group: string): string {
  return `QUOTA_${resource.toUpperCase()}_PER_USER:${group}`;
}

/** `BUDGET_GPU_HOURS_USER`, `BUDGET_CPU_HOURS_GROUP:research`. */
export function budgetPendingReason(resource: 'gpu_hours' | 'cpu_hours', group: string | null): string {
  const code = `BUDGET_${resource.toUpperCase()}_${group === null ? 'USER' : 'GROUP'}`;
  return group === null ? code : `${code}:${group}`;
}

/** `NO_BORROW_GPUS:research/vision`, `BORROW_LIMIT_CPU:...`, `COHORT_GPUS:...`. */
export function guaranteePendingReason(kind: 'NO_BORROW' | 'BORROW_LIMIT' | 'COHORT', resource: GuaranteeResource, group: string): string {
  return `${kind}_${resource.toUpperCase()}:${group}`;
}

/** A pending reason in words, for `describe` and the web UI. */
export function explainPendingReason(reason: string): string {
  if (reason === 'NO_AGENT_FITS') return 'no agent has the room (or the image, or the --shared-root its group directories need) for it right now';
  if (reason === 'POOL_GONE') return "its pool is no longer one of master.yaml's pools: kill it and submit it again with --pool";
  if (reason === 'SLURM_PENDING_JOBS') return "its Slurm pool's jobs already waiting in Slurm's queue reach the pool's max_pending_jobs; it goes next in Trainyard's order";
  if (reason === 'SLURM_UNAVAILABLE') return "its Slurm pool's slurmrestd does not answer; it is submitted once Slurm answers again";
  if (reason.startsWith('SLURM:')) return explainSlurmReason(reason.slice('SLURM:'.length));
  const words = { RUNNING: 'running tasks', CPU: 'CPUs', MEMORY: 'memory', GPUS: 'GPUs' } as const;
  const quota = /^QUOTA_(RUNNING|CPU|MEMORY|GPUS)_(USER|GROUP|PER_USER)(?::(.+))?$/.exec(reason);
  if (quota) {
    const what = words[quota[1] as keyof typeof words];
    if (quota[2] === 'USER') return `the owner's quota on ${what} is in use`;
    if (quota[2] === 'PER_USER') return `the owner's share of group ${quota[3]}'s quota on ${what} is in use (per user)`;
    return `group ${quota[3]}'s quota on ${what} is in use`;
  }
  const budget = /^BUDGET_(GPU|CPU)_HOURS_(USER|GROUP)(?::(.+))?$/.exec(reason);
  if (budget) {
    const what = `${budget[1]}-hours`;
    return budget[2] === 'USER' ? `the owner's budget of ${what} is spent for its window` : `group ${budget[3]}'s budget of ${what} is spent for its window`;
  }
  const guarantee = /^(NO_BORROW|BORROW_LIMIT|COHORT)_(GPUS|CPU)(?::(.+))?$/.exec(reason);
  if (guarantee) {
    const what = words[guarantee[2] as 'GPUS' | 'CPU'];
    const group = guarantee[3];
    if (guarantee[1] === 'NO_BORROW') return `group ${group}'s guarantee of ${what} is in use, and a task that may not be preempted does not borrow`;
    if (guarantee[1] === 'BORROW_LIMIT') return `group ${group} would borrow ${what} past its borrowing limit`;
    return `group ${group}'s guarantee of ${what} is in use and its siblings have none idle to lend`;
  }
  return reason;
}

/** Slurm's most common reasons for holding a job pending (squeue's REASON), in words; others as Slurm says them. */
const SLURM_REASONS: Record<string, string> = {
  Resources: 'no node of the partition has the room it asks for right now',
  Priority: 'jobs with a higher priority go first in the partition',
  Dependency: 'it waits for another job',
  ReqNodeNotAvail: 'a node it needs is down, drained or reserved',
  PartitionNodeLimit: "it asks for more nodes than the partition allows",
  PartitionTimeLimit: "its time limit (max_runtime) is more than the partition's",
  PartitionDown: 'the partition is down',
  PartitionInactive: 'the partition is inactive',
  BeginTime: 'its start time has not come',
  JobHeldAdmin: 'a Slurm administrator holds it (scontrol release)',
  JobHeldUser: 'it is held (scontrol release)',
  QOSMaxJobsPerUserLimit: "its user's Slurm QOS limit on running jobs is reached",
  QOSGrpCpuLimit: "its Slurm QOS's CPU limit is reached",
  AssocGrpCpuLimit: "its Slurm account's CPU limit is reached",
  AssocGrpGRES: "its Slurm account's GPU limit is reached",
  AssocMaxJobsLimit: "its Slurm account's limit on running jobs is reached",
  Reservation: 'it waits for its reservation',
  Licenses: 'it waits for licenses',
};

function explainSlurmReason(reason: string): string {
  const words = SLURM_REASONS[reason];
  return words ? `Slurm holds its job: ${words}` : `Slurm holds its job (${reason}; see squeue's reason codes)`;
}
