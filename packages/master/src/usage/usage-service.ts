import {
  resolvePeriodBound,
  type RunOutcome,
  type TaskKind,
  type UsageAmounts,
  type UsageDimension,
  type UsageReport,
  type UsageRow,
  type UsageSeries,
} from '@trainyard/shared';
import type { Actor } from '../authz/actor.js';
import { usageVisibility, type UsageTarget } from '../authz/usage.js';
import { toIso, type Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import type { TaskRow, UsageRunRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { UserService } from '../users/user-service.js';
import { poolOfTask } from './pool-of.js';
import { usageRepository, type RunFilter } from './usage-repository.js';

/** A run as the ledger closed it: what fair share charges its owner. */
export interface EndedRun {
  taskId: number;
  ownerId: number;
  /** The group the run was charged to (hierarchical fair share), or null. */
  groupId: number | null;
  cpu: number;
  gpus: number;
  memory: number;
  startedAt: number;
  endedAt: number;
}

/** What the tasks service tells the ledger, inside the transaction that changes the task's state. */
export interface RunLedger {
  runStarted(trx: Executor, task: TaskRow, at: number): Promise<void>;
  runEnded(trx: Executor, task: TaskRow, at: number, outcome: RunOutcome, exitCode: number | null): Promise<EndedRun>;
}

/** A run as budgets count it. */
export interface WindowRun {
  ownerId: number;
  groupPath: string | null;
  pool: string;
  cpu: number;
  gpus: number;
  startedAt: number;
  endedAt: number | null;
}

/** An ended run, for run lengths. */
export interface RecentRun {
  ownerId: number;
  name: string;
  kind: TaskKind;
  startedAt: number;
  endedAt: number;
  waitMs: number;
  outcome: RunOutcome;
}

/** A report's filters once parsed (shared `usageQuerySchema`). */
export interface ReportRequest {
  since: string;
  until: string;
  pool?: string | undefined;
  kind?: TaskKind | undefined;
}

const HOUR_MS = 3_600_000;
const GIB = 1024 ** 3;
/** A chart reads well with this many lines at most: the rest are summed as `others`. */
const MAX_SERIES = 12;
const STEPS_MS = [300_000, 900_000, HOUR_MS, 3 * HOUR_MS, 6 * HOUR_MS, 24 * HOUR_MS, 7 * 24 * HOUR_MS];

/**
 * The usage ledger: one row per run, opened when the run starts and closed when it ends, both in the
 * transaction that changes the task's state (so a state and its ledger row are never apart, a crash
 * included). Reports clip each run to their period; a run still going counts up to now.
 */
export class UsageService implements RunLedger {
  constructor(private readonly deps: { db: Db; clock: Clock; users: Pick<UserService, 'requireById'> }) {}

  async runStarted(trx: Executor, task: TaskRow, at: number): Promise<void> {
    const owner = await this.deps.users.requireById(task.owner_id, trx);
    const resources = resourcesOf(task);
    const queuedAt = Math.min(task.queued_at ?? task.created_at, at);
    await usageRepository.openRun(trx, {
      task_id: task.id,
      owner_id: task.owner_id,
      owner_name: owner.username,
      group_path: task.group_path,
      pool: poolOfTask(task),
      kind: task.kind,
      task_name: task.name,
      cpu: resources.cpu,
      memory: resources.memory,
      gpus: resources.gpus,
      agent_id: task.agent_id,
      queued_at: queuedAt,
      started_at: at,
      wait_ms: at - queuedAt,
    });
  }

  async runEnded(trx: Executor, task: TaskRow, at: number, outcome: RunOutcome, exitCode: number | null): Promise<EndedRun> {
    let run = await usageRepository.closeRun(trx, task.id, { endedAt: at, outcome, exitCode });
    if (!run) {
      // No open row (a run the ledger never saw start): written whole, from its last assignment on.
      await this.runStarted(trx, task, Math.min(at, Math.max(task.started_at ?? 0, task.assigned_at ?? 0) || at));
      run = (await usageRepository.closeRun(trx, task.id, { endedAt: at, outcome, exitCode }))!;
    }
    return { taskId: task.id, ownerId: run.owner_id, groupId: task.group_id, cpu: run.cpu, gpus: run.gpus, memory: run.memory, startedAt: run.started_at, endedAt: run.ended_at! };
  }

  /** Runs that ended after `since` (`closed`), or still going (`open`), with what they held (budgets); `endedAt` null: still going. */
  async windowRuns(since: number, which: 'closed' | 'open'): Promise<WindowRun[]> {
    const rows = await usageRepository.windowRuns(this.deps.db, since, which);
    return rows.map((r) => ({ ownerId: r.owner_id, groupPath: r.group_path, pool: r.pool, cpu: r.cpu, gpus: r.gpus, startedAt: r.started_at, endedAt: r.ended_at }));
  }

  /** The newest runs of a pool that ended after `since` (what start estimates learn run lengths and start delays from). */
  async recentRuns(pool: string, since: number, limit = 500): Promise<RecentRun[]> {
    const rows = await usageRepository.recentRuns(this.deps.db, pool, since, limit);
    return rows.map((r) => ({ ownerId: r.owner_id, name: r.task_name, kind: r.kind, startedAt: r.started_at, endedAt: r.ended_at!, waitMs: r.wait_ms, outcome: r.outcome! }));
  }

  /** `GET /usage`: amounts per combination of the `by` dimensions, over what the caller may see. */
  async report(actor: Actor, request: ReportRequest & { by: UsageDimension[] }, target: UsageTarget): Promise<UsageReport> {
    const { since, until, now, runs, visible } = await this.read(actor, request, target);
    const groups = new Map<string, { keys: Omit<UsageRow, keyof UsageAmounts>; acc: Accumulator }>();
    const totals = new Accumulator();
    for (const run of runs) {
      const keyValues = keysOf(run, request.by);
      const key = JSON.stringify(keyValues);
      let entry = groups.get(key);
      if (!entry) groups.set(key, (entry = { keys: keyValues, acc: new Accumulator() }));
      entry.acc.add(run, since, until, now);
      totals.add(run, since, until, now);
    }
    const rows = [...groups.values()]
      .map(({ keys, acc }) => ({ ...keys, ...acc.amounts() }))
      .sort((a, b) => b.gpuHours - a.gpuHours || b.cpuHours - a.cpuHours || keyText(a, request.by).localeCompare(keyText(b, request.by)));
    return { since: toIso(since), until: toIso(until), by: request.by, visible, rows, totals: totals.amounts() };
  }

  /** `GET /usage/series`: hours held per key of one dimension in each time bucket, for the charts. */
  async series(actor: Actor, request: ReportRequest & { by: UsageDimension; step?: string | undefined }, target: UsageTarget): Promise<UsageSeries> {
    const { since, until, now, runs, visible } = await this.read(actor, request, target);
    const stepMs = request.step ? stepOf(request.step) : (STEPS_MS.find((s) => (until - since) / s <= 60) ?? STEPS_MS.at(-1)!);
    const first = Math.floor(since / stepMs) * stepMs;
    const count = Math.max(1, Math.ceil((until - first) / stepMs));
    if (count > 2000) throw new DomainError('INVALID_INPUT', `step: ${request.step} makes ${count} buckets over the period; at most 2000 (take a longer step)`);
    const lines = new Map<string, { cpu: number[]; gpu: number[]; mem: number[]; run: number[]; total: number }>();
    for (const run of runs) {
      const key = String(keysOf(run, [request.by])[request.by] ?? '(none)');
      let line = lines.get(key);
      if (!line) lines.set(key, (line = { cpu: zeros(count), gpu: zeros(count), mem: zeros(count), run: zeros(count), total: 0 }));
      const start = Math.max(run.started_at, since);
      const end = Math.min(run.ended_at ?? now, until, now);
      for (let i = Math.max(0, Math.floor((start - first) / stepMs)); i < count; i++) {
        const bucketStart = first + i * stepMs;
        if (bucketStart >= end) break;
        const hours = Math.max(0, Math.min(end, bucketStart + stepMs) - Math.max(start, bucketStart)) / HOUR_MS;
        line.cpu[i]! += run.cpu * hours;
        line.gpu[i]! += run.gpus * hours;
        line.mem[i]! += (run.memory / GIB) * hours;
        line.run[i]! += hours;
        line.total += run.gpus * hours * 1000 + run.cpu * hours;
      }
    }
    const ranked = [...lines.entries()].sort((a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0]));
    const kept = ranked.slice(0, MAX_SERIES);
    const rest = ranked.slice(MAX_SERIES);
    if (rest.length > 0) {
      const others = { cpu: zeros(count), gpu: zeros(count), mem: zeros(count), run: zeros(count), total: 0 };
      for (const [, line] of rest) for (let i = 0; i < count; i++) for (const k of ['cpu', 'gpu', 'mem', 'run'] as const) others[k][i]! += line[k][i]!;
      kept.push([`others (${rest.length})`, others]);
    }
    return {
      since: toIso(since),
      until: toIso(until),
      by: request.by,
      stepSeconds: stepMs / 1000,
      buckets: Array.from({ length: count }, (_, i) => toIso(first + i * stepMs)),
      series: kept.map(([key, line]) => ({ key, cpuHours: line.cpu.map(round), gpuHours: line.gpu.map(round), memoryGibHours: line.mem.map(round), runHours: line.run.map(round) })),
      visible,
    };
  }

  private async read(actor: Actor, request: ReportRequest, target: UsageTarget) {
    const now = this.deps.clock.now();
    const since = resolvePeriodBound(request.since, now)!;
    const until = resolvePeriodBound(request.until, now)!;
    if (since >= until) {
      throw new DomainError('INVALID_INPUT', `since (${toIso(since)}) must be before until (${toIso(until)})`);
    }
    const visibility = usageVisibility(actor);
    const filter: RunFilter = {
      since,
      until,
      ...(target.user ? { ownerId: target.user.id } : {}),
      ...(target.group !== undefined ? { group: target.group } : {}),
      ...(request.pool ? { pool: request.pool } : {}),
      ...(request.kind ? { kind: request.kind } : {}),
      ...(visibility.all ? {} : { visible: { ownerId: visibility.ownerId, groups: visibility.groups } }),
    };
    const runs = await usageRepository.runs(this.deps.db, filter);
    const visible: UsageReport['visible'] = visibility.all ? { all: true } : { all: false, user: visibility.user, groups: visibility.groups };
    return { since, until, now, runs, visible };
  }
}

/** Sums of one row: hours clipped to the period, distinct tasks, waits of the runs that started in it. */
class Accumulator {
  private readonly tasks = new Set<number>();
  private runs = 0;
  private running = 0;
  private cpuHours = 0;
  private gpuHours = 0;
  private memoryGibHours = 0;
  private readonly waits: number[] = [];

  add(run: UsageRunRow, since: number, until: number, now: number): void {
    const end = Math.min(run.ended_at ?? now, until, now);
    const hours = Math.max(0, end - Math.max(run.started_at, since)) / HOUR_MS;
    this.tasks.add(run.task_id);
    this.runs++;
    if ((run.ended_at ?? Number.POSITIVE_INFINITY) > until) this.running++;
    this.cpuHours += run.cpu * hours;
    this.gpuHours += run.gpus * hours;
    this.memoryGibHours += (run.memory / GIB) * hours;
    if (run.started_at >= since && run.started_at < until) this.waits.push(run.wait_ms / 1000);
  }

  amounts(): UsageAmounts {
    const sorted = [...this.waits].sort((a, b) => a - b);
    return {
      tasks: this.tasks.size,
      runs: this.runs,
      running: this.running,
      cpuHours: round(this.cpuHours),
      gpuHours: round(this.gpuHours),
      memoryGibHours: round(this.memoryGibHours),
      waitMedianSeconds: percentile(sorted, 0.5),
      waitP95Seconds: percentile(sorted, 0.95),
    };
  }
}

/** Nearest-rank percentile of sorted values (what sacct-style reports use); null for none. */
function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!, 3);
}

function keysOf(run: UsageRunRow, by: readonly UsageDimension[]): Omit<UsageRow, keyof UsageAmounts> {
  const keys: Omit<UsageRow, keyof UsageAmounts> = {};
  for (const dimension of by) {
    if (dimension === 'user') keys.user = run.owner_name;
    else if (dimension === 'group') keys.group = run.group_path;
    else if (dimension === 'pool') keys.pool = run.pool;
    else keys.kind = run.kind;
  }
  return keys;
}

const keyText = (row: UsageRow, by: readonly UsageDimension[]) => by.map((d) => row[d] ?? '').join('\u0000');

/** Six decimals: a GPU-hour to the millisecond, and stable JSON. */
const round = (value: number, digits = 6) => Math.round(value * 10 ** digits) / 10 ** digits;
const zeros = (n: number) => Array.from({ length: n }, () => 0);

function stepOf(step: string): number {
  const unit = step.at(-1) as 'm' | 'h' | 'd';
  return Number(step.slice(0, -1)) * { m: 60_000, h: HOUR_MS, d: 24 * HOUR_MS }[unit];
}

/** What a run holds, from the task's run spec: a run that asks no CPUs counts as one (as quotas count it), no memory limit as 0. */
export function resourcesOf(task: Pick<TaskRow, 'run_spec'>): { cpu: number; gpus: number; memory: number } {
  const resources = (JSON.parse(task.run_spec) as { resources?: { cpu?: number | null; gpus?: number; memory?: number | null } }).resources ?? {};
  return { cpu: resources.cpu ?? 1, gpus: resources.gpus ?? 0, memory: resources.memory ?? 0 };
}

