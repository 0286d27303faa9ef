import { isTerminal, type TaskState, type TaskWhy, type WhyAhead, type WhyCheck, type WhyEstimate, type WhyPlacement } from '@trainyard/shared';
import type { Clock } from '../clock.js';
import type { TaskRow } from '../db/schema.js';
import { nextMonth, windowStart } from '../quotas/budgets.js';
import type { DispatchSnapshot, RuntimeRules } from '../quotas/quota-service.js';
import type { ActiveLoad, QuotaRecord, TaskLoad } from '../quotas/quota-repository.js';
import type { Pools } from '../resource-managers/pools.js';
import type { TaskWithOwner } from '../tasks/task-repository.js';
import type { UsageService, WindowRun } from '../usage/usage-service.js';
import type { UserService } from '../users/user-service.js';
import { estimateStart, RunLengths, type SimRunning, type SimTask, type Spread } from './estimate.js';
import { queuedTaskOf, type QueueIndex, type QueuedTask } from './queue-index.js';

interface WhyDeps {
  index: QueueIndex;
  ctx: { active: ActiveLoad[]; snapshot: DispatchSnapshot; ranks: Map<string, number> | undefined; limits: RuntimeRules };
  clock: Clock;
  policy: 'fifo' | 'fair_share';
  pools: Pools;
  users: Pick<UserService, 'requireById'>;
  usage: Pick<UsageService, 'recentRuns' | 'windowRuns'>;
  /** The pool's queue in the scheduler's order. */
  order: (pool: string) => Iterable<QueuedTask>;
  /** Every task holding a slot now, with its row (names and kinds for run lengths). */
  activeRows: () => Promise<TaskRow[]>;
}

/** How far back the ledger is read for run lengths and start delays. */
const HISTORY_MS = 30 * 86_400_000;
/** Tasks ahead looked at for the estimate (and the order walked for the position). */
const AHEAD_LIMIT = 2_000;

/** What a check takes from a task: the resource it counts, in the task's terms. */
function amountFor(check: WhyCheck, load: TaskLoad): number {
  const resource = check.resource.split(' ')[0];
  if (resource === 'running') return 1;
  if (resource === 'gpus') return load.gpus;
  if (resource === 'cpu') return load.cpu;
  if (resource === 'memory') return load.memory;
  return 0;
}

const loadOf = (row: TaskRow): TaskLoad => queuedTaskOf(row).load;

/**
 * `yard why ID`: every layer checked for the task with used/limit (each quota layer down the group
 * tree, each member's share, the budgets, the guarantee), every machine of its pool and why it does
 * not fit, its place in its pool's order and who is ahead, and an estimated start with its error.
 */
export async function explainTask(task: TaskWithOwner, deps: WhyDeps): Promise<TaskWhy> {
  const state = task.state as TaskState;
  const empty = { policy: deps.policy, position: null, length: deps.index.size(task.pool), fairShareRank: null, ahead: [] };
  if (state !== 'QUEUED') {
    const basis = isTerminal(state) ? [`it ended ${state}`] : [`it is ${state}${task.agent_id ? ` on ${task.agent_id}` : ''}`];
    return {
      taskId: task.id,
      state,
      pool: task.pool,
      pendingReason: task.pending_reason,
      reasons: state === 'ASSIGNED' && task.pending_reason ? [task.pending_reason] : [],
      checks: [],
      placement: [],
      queue: empty,
      estimate: { startAt: task.started_at === null ? null : new Date(task.started_at).toISOString(), errorSeconds: null, confidence: 'none', basis },
    };
  }
  const { gate } = deps.ctx.snapshot;
  const entry = deps.index.get(task.id) ?? queuedTaskOf(task);
  const { checks, keys } = gate.explain(entry.load);
  const manager = deps.pools.find(task.pool);
  const placement: WhyPlacement[] = manager?.explain ? await manager.explain(entry.spec) : [];

  const reasons = [...new Set(checks.filter((c) => c.holds && c.reason !== null).map((c) => c.reason!))];
  if (!manager) reasons.push('POOL_GONE');
  else if (placement.length > 0 && !placement.some((p) => p.fits)) reasons.push('NO_AGENT_FITS');
  else if (placement.length === 0 && entry.reason !== null && !reasons.includes(entry.reason) && !/^(QUOTA_|BUDGET_|NO_BORROW_|BORROW_LIMIT_|COHORT_)/.test(entry.reason)) {
    reasons.push(entry.reason);
  }

  // Its place in the order, and who is ahead.
  const ahead: QueuedTask[] = [];
  let position: number | null = null;
  let walked = 0;
  for (const other of deps.order(task.pool)) {
    walked += 1;
    if (other.row.id === task.id) {
      position = walked;
      break;
    }
    if (ahead.length < AHEAD_LIMIT) ahead.push(other);
  }
  const names = new Map<number, string>();
  const nameOf = async (id: number) => {
    if (!names.has(id)) names.set(id, (await deps.users.requireById(id)).username);
    return names.get(id)!;
  };
  const aheadView: WhyAhead[] = [];
  for (const other of ahead.slice(0, 10)) aheadView.push({ id: other.row.id, owner: await nameOf(other.row.owner_id), group: other.row.group_path, priority: other.priority });

  const startEstimate = await estimate(task, entry, { checks, keys, placement, ahead, deps });
  return {
    taskId: task.id,
    state,
    pool: task.pool,
    pendingReason: task.pending_reason,
    reasons,
    checks,
    placement,
    queue: {
      policy: deps.policy,
      position,
      length: deps.index.size(task.pool),
      fairShareRank: deps.ctx.ranks?.get(entry.association) ?? (deps.policy === 'fair_share' ? 1 : null),
      ahead: aheadView,
    },
    estimate: startEstimate,
  };
}

/**
 * When the task may start: the queue played forward (estimate.ts) over what holds it, the pool's
 * capacity (all its machines together) and every quota layer that holds it, with the run lengths
 * the ledger knows (this owner's runs of this name, else of this kind, else the pool's), capped by
 * max_runtime; not before a spent budget's window has slid far enough.
 */
async function estimate(
  task: TaskWithOwner,
  entry: QueuedTask,
  what: { checks: WhyCheck[]; keys: string[]; placement: WhyPlacement[]; ahead: QueuedTask[]; deps: WhyDeps },
): Promise<WhyEstimate> {
  const { checks, keys, placement, ahead, deps } = what;
  const { gate } = deps.ctx.snapshot;
  const now = deps.clock.now();
  const basis: string[] = [];
  let weak = false;
  const manager = deps.pools.find(task.pool);
  if (!manager) return { startAt: null, errorSeconds: null, confidence: 'none', basis: [`its pool ${task.pool} is gone`] };
  const { capacity, nodes } = await manager.capacity();
  if (nodes === 0) return { startAt: null, errorSeconds: null, confidence: 'none', basis: [`pool ${task.pool} has no machine that may take work`] };

  const lengths = new RunLengths(await deps.usage.recentRuns(task.pool, now - HISTORY_MS));
  const rows = await deps.activeRows();
  const limitOf = (load: TaskLoad) => deps.ctx.limits.tightest(load)?.maxRuntimeMs ?? null;

  // The constraints: the pool's capacity, and each layer (by its use key) that holds the task now.
  const free = new Map<string, number>();
  const inPool = rows.filter((r) => r.pool === task.pool);
  const poolUse = { gpus: 0, cpu: 0 };
  for (const row of inPool) {
    const load = loadOf(row);
    poolUse.gpus += load.gpus;
    poolUse.cpu += load.cpu;
  }
  free.set('pool:gpus', capacity.gpus - poolUse.gpus);
  free.set('pool:cpu', capacity.cpu - poolUse.cpu);
  const layers: Array<{ key: string; check: WhyCheck }> = [];
  let notBefore = now;
  for (const [i, check] of checks.entries()) {
    if (!check.holds) continue;
    if (check.layer === 'budget') {
      const freeAt = await budgetFreesAt(check, keys[i]!, rows, lengths, deps);
      if (freeAt === null) return { startAt: null, errorSeconds: null, confidence: 'none', basis: [`budget '${check.name}' (${check.via}) does not free up while its tasks run`] };
      notBefore = Math.max(notBefore, freeAt);
      basis.push(`budget '${check.name}' (${check.via}): ${check.used} of ${check.limit} ${check.resource.replace('_', '-')} spent ${check.note ?? ''}; it has room again at ${new Date(freeAt).toISOString()}`);
      continue;
    }
    if (check.ask > check.limit) {
      return { startAt: null, errorSeconds: null, confidence: 'none', basis: [`it asks ${check.ask} ${check.resource}, more than ${check.name} (${check.via}) allows at all (${check.limit})`] };
    }
    if (check.layer === 'guarantee') weak = true;
    const key = `${keys[i]}|${check.resource}`;
    layers.push({ key, check });
    free.set(key, check.limit - check.used);
    basis.push(`${check.name} (${check.via}): ${check.resource} ${check.used} of ${check.limit} in use, it asks ${check.ask}`);
  }
  const takesOf = (load: TaskLoad): Map<string, number> => {
    const takes = new Map<string, number>();
    if (load.pool === task.pool) {
      takes.set('pool:gpus', load.gpus);
      takes.set('pool:cpu', load.cpu);
    }
    if (layers.length > 0) {
      const counted = gate.keysOf(load);
      for (const { key, check } of layers) if (counted.has(key.slice(0, key.indexOf('|')))) takes.set(key, amountFor(check, load));
    }
    return takes;
  };

  // Running tasks free what they hold when they end.
  const running: SimRunning[] = [];
  for (const row of rows) {
    const load = loadOf(row);
    const takes = takesOf(load);
    if (![...takes.values()].some((v) => v > 0)) continue;
    const start = Math.max(row.started_at ?? 0, row.assigned_at ?? 0) || now;
    let length: Spread = lengths.of({ ownerId: row.owner_id, name: row.name, kind: row.kind }, limitOf(load));
    // Being killed or preempted: gone within the grace period.
    if (row.kill_requested_at !== null) length = { mid: now - start + 1000, low: now - start, high: now - start + 10_000, source: 'limit', samples: 0 };
    running.push({ id: row.id, takes, length, start });
  }
  // Tasks ahead start first when they fit, but those held by a layer that does not hold this task stay held.
  const ownKeys = new Set(layers.map((l) => l.key.slice(0, l.key.indexOf('|'))));
  const queue: SimTask[] = [];
  let aheadCounted = 0;
  for (const other of ahead) {
    if (other.load.pool !== task.pool && ![...takesOf(other.load).keys()].some((k) => k !== 'pool:gpus' && k !== 'pool:cpu')) continue;
    const theirs = gate.explain(other.load);
    const heldElsewhere = theirs.checks.some((c, i) => c.holds && c.layer !== 'budget' && !ownKeys.has(theirs.keys[i]!));
    const budgetHeld = theirs.checks.some((c) => c.holds && c.layer === 'budget');
    if (heldElsewhere || budgetHeld) continue;
    aheadCounted += 1;
    queue.push({ id: other.row.id, takes: takesOf(other.load), length: lengths.of({ ownerId: other.row.owner_id, name: other.row.name, kind: other.row.kind }, limitOf(other.load)) });
  }
  const target = lengths.of({ ownerId: task.owner_id, name: task.name, kind: task.kind }, limitOf(entry.load));
  queue.push({ id: task.id, takes: takesOf(entry.load), length: target });

  if (placement.length > 0 && !placement.some((p) => p.fits) && (free.get('pool:gpus')! >= entry.load.gpus && free.get('pool:cpu')! >= entry.load.cpu)) {
    weak = true;
    basis.push('the pool has the room in all, but on no single machine now: counted over its machines together');
  }
  if (running.length > 0) {
    const known = running.filter((r) => r.length.source !== 'none');
    basis.push(
      `${running.length} running task${running.length === 1 ? '' : 's'} hold what it needs; their run lengths from ${describeSources(known.map((r) => r.length))}` +
        (known.length < running.length ? `; ${running.length - known.length} of unknown length (no runs of theirs in the ledger, no max_runtime)` : ''),
    );
  }
  if (aheadCounted > 0) basis.push(`${aheadCounted} queued task${aheadCounted === 1 ? '' : 's'} ahead of it that may start first`);
  basis.push(`start delay ${(lengths.startDelay.mid / 1000).toFixed(1)} s (the fastest recent starts in pool ${task.pool})`);
  return estimateStart({ now, free, running, queue, targetId: task.id, notBefore, startDelay: lengths.startDelay }, { basis, weak });
}

function describeSources(spreads: Spread[]): string {
  if (spreads.length === 0) return 'nothing';
  const counts = new Map<string, number>();
  const words = { name: 'runs of the same name', kind: "their owner's runs of that kind", pool: 'runs of that kind in the pool', limit: 'max_runtime', none: 'nothing' } as const;
  for (const s of spreads) counts.set(words[s.source], (counts.get(words[s.source]) ?? 0) + 1);
  return [...counts].map(([word, n]) => (spreads.length === 1 ? word : `${word} (${n})`)).join(', ');
}

/**
 * When a spent budget has room again: its window slides past old runs (rolling), or the month turns.
 * The principal's running tasks keep spending until they end as expected.
 */
async function budgetFreesAt(check: WhyCheck, key: string, rows: TaskRow[], lengths: RunLengths, deps: WhyDeps): Promise<number | null> {
  const now = deps.clock.now();
  const match = /^b(\d+)\|(u|g):(\d+)$/.exec(key);
  if (!match) return null;
  const rules = deps.ctx.snapshot.rules;
  const quota: QuotaRecord | undefined = [...rules.byUser.values(), ...[...rules.byGroup.values()].map((l) => l.quotas)].flat().find((q) => q.id === Number(match[1]));
  if (!quota) return null;
  if (quota.budgetWindow === 'month') return nextMonth(now);
  const windowMs = now - windowStart(quota, now);
  const id = Number(match[3]);
  const path = match[2] === 'g' ? rules.pathOf(id) : undefined;
  const covers = (ownerId: number, groupPath: string | null, pool: string) =>
    (quota.pool === null || quota.pool === pool) &&
    (match[2] === 'u' ? ownerId === id : groupPath !== null && path !== undefined && (groupPath === path || groupPath.startsWith(`${path}/`)));
  const closed = (await deps.usage.windowRuns(now - windowMs, 'closed')).filter((r) => covers(r.ownerId, r.groupPath, r.pool));
  // Runs going on end as expected.
  const open: WindowRun[] = rows
    .filter((r) => r.state === 'RUNNING' && covers(r.owner_id, r.group_path, r.pool))
    .map((r) => {
      const load = loadOf(r);
      const start = r.started_at ?? now;
      const length = lengths.of({ ownerId: r.owner_id, name: r.name, kind: r.kind }, deps.ctx.limits.tightest(load)?.maxRuntimeMs ?? null);
      return { ownerId: r.owner_id, groupPath: r.group_path, pool: r.pool, cpu: load.cpu, gpus: load.gpus, startedAt: start, endedAt: length.source === 'none' ? Number.POSITIVE_INFINITY : Math.max(now, start + length.mid) };
    });
  const runs = [...closed, ...open];
  const gpu = check.resource === 'gpu_hours';
  const usedAt = (t: number) =>
    runs.reduce((sum, r) => sum + (gpu ? r.gpus : r.cpu) * Math.max(0, Math.min(r.endedAt ?? t, t) - Math.max(r.startedAt, t - windowMs)), 0) / 3_600_000;
  // The usage over the window only falls where an old run leaves it: try those moments, in order.
  const candidates = [...new Set(runs.flatMap((r) => [r.startedAt + windowMs, (r.endedAt ?? now) + windowMs]).filter((t) => Number.isFinite(t) && t > now))].sort((a, b) => a - b);
  for (let step = 1; step <= 200; step++) candidates.push(now + (windowMs * step) / 200);
  candidates.sort((a, b) => a - b);
  for (const t of candidates) {
    if (usedAt(t) < check.limit) {
      // Somewhere in the last stretch before t it fell below: search it.
      let lo = now;
      let hi = t;
      for (let i = 0; i < 40; i++) {
        const mid = (lo + hi) / 2;
        if (usedAt(mid) < check.limit) hi = mid;
        else lo = mid;
      }
      return Math.ceil(hi);
    }
  }
  return null;
}
