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
}

/** One limit of one quota as it applies to a principal: how much is in use, and the limit. */
export interface QuotaUsageLine {
  resource: 'running' | 'submitted' | 'cpu' | 'memory' | 'gpus' | 'max_runtime';
  used: number | null;
  limit: number;
}

/** `GET /quota-usage`: the quotas covering a user (their own, their groups') or a group, with usage. */
export interface QuotaUsage {
  user: string | null;
  group: string | null;
  quotas: Array<{ quota: string; via: string; denyOnLimit: boolean; lines: QuotaUsageLine[] }>;
  /** The user's fair-share usage (GPU- and CPU-seconds, decayed), when a user was asked for. */
  fairShare: { cpuSeconds: number; gpuSeconds: number; score: number } | null;
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
  pendingReason: string | null;
}

export interface QueueView {
  policy: 'fifo' | 'fair_share';
  items: QueueEntry[];
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
  return [
    q.maxRunning === null ? '' : `max_running=${q.maxRunning}`,
    q.maxSubmitted === null ? '' : `max_submitted=${q.maxSubmitted}`,
    q.cpu === null ? '' : `cpu=${q.cpu}`,
    q.memory === null ? '' : `memory=${formatByteSize(q.memory)}`,
    q.gpus === null ? '' : `gpus=${q.gpus}`,
    q.maxRuntimeMs === null ? '' : `max_runtime=${formatLimitDuration(q.maxRuntimeMs)}`,
  ]
    .filter(Boolean)
    .join(' ');
}

/** One usage line's amount for people: memory as a size, max_runtime as a duration, '-' for none. */
export function formatUsageAmount(line: Pick<QuotaUsageLine, 'resource'>, value: number | null): string {
  if (value === null) return '-';
  if (line.resource === 'memory') return formatByteSize(value);
  if (line.resource === 'max_runtime') return formatLimitDuration(value);
  return String(Math.round(value * 1000) / 1000);
}

/** `QUOTA_GPUS_GROUP:research`, `QUOTA_RUNNING_USER`. */
export function quotaPendingReason(resource: DispatchResource, group: string | null): string {
  const code = `QUOTA_${resource.toUpperCase()}_${group === null ? 'USER' : 'GROUP'}`;
  return group === null ? code : `${code}:${group}`;
}

/** A pending reason in words, for `describe` and the web UI. */
export function explainPendingReason(reason: string): string {
  if (reason === 'NO_AGENT_FITS') return 'no agent has the room (or the image, or the --shared-root its group directories need) for it right now';
  if (reason === 'POOL_GONE') return "its pool is no longer one of master.yaml's pools: kill it and submit it again with --pool";
  if (reason === 'SLURM_PENDING_JOBS') return "its Slurm pool's jobs already waiting in Slurm's queue reach the pool's max_pending_jobs; it goes next in Trainyard's order";
  if (reason === 'SLURM_UNAVAILABLE') return "its Slurm pool's slurmrestd does not answer; it is submitted once Slurm answers again";
  if (reason.startsWith('SLURM:')) return explainSlurmReason(reason.slice('SLURM:'.length));
  const match = /^QUOTA_(RUNNING|CPU|MEMORY|GPUS)_(USER|GROUP)(?::(.+))?$/.exec(reason);
  if (!match) return reason;
  const what = { RUNNING: 'running tasks', CPU: 'CPUs', MEMORY: 'memory', GPUS: 'GPUs' }[match[1] as 'RUNNING'];
  return match[2] === 'USER' ? `the owner's quota on ${what} is in use` : `group ${match[3]}'s quota on ${what} is in use`;
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
