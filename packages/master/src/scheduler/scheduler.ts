import type { Logger } from 'pino';
import type { GuaranteeStatus, QueueEntry, QueueView, TaskWhy } from '@trainyard/shared';
import type { Clock } from '../clock.js';
import type { TaskRow } from '../db/schema.js';
import { fairTreeRanks } from '../quotas/fair-tree.js';
import type { GuaranteeService } from '../quotas/guarantee-service.js';
import type { ActiveLoad } from '../quotas/quota-repository.js';
import type { DispatchSnapshot, QuotaService, RuntimeRules } from '../quotas/quota-service.js';
import type { Dispatcher, DispatchResult, Opening } from '../resource-managers/resource-manager.js';
import type { Pools } from '../resource-managers/pools.js';
import type { TaskService } from '../tasks/task-service.js';
import type { TaskWithOwner } from '../tasks/task-repository.js';
import type { UsageService } from '../usage/usage-service.js';
import type { UserService } from '../users/user-service.js';
import { dispatchOrder, isSchedulerReason, QueueIndex, type QueuedTask } from './queue-index.js';
import { explainTask } from './why.js';

export interface SchedulerOptions {
  /** `fair_share`: hierarchical fair share (Fair Tree) first, then the oldest task; `fifo`: the oldest task. */
  policy: 'fifo' | 'fair_share';
}

/** How often a decision also writes the reason of every queued task it did not need to look at (per pool). */
const REASON_PASS_MS = 1_000;
/** How often the queue in memory is read again from the table, in case anything changed behind its events. */
const RESYNC_MS = 60_000;

/** What one decision reads once: the quota snapshot (gate, cohorts), the fair-share ranks, the runtime limits. */
interface Context {
  active: ActiveLoad[];
  snapshot: DispatchSnapshot;
  ranks: Map<string, number> | undefined;
  limits: RuntimeRules;
}

/**
 * Decides whether and in which order queued tasks may start; the pools' resource managers decide
 * where and how they run (resource-managers/resource-manager.ts). A manager with room (an agent
 * asking for work) asks for a decision over its pool's queue: the scheduler orders the queue (Fair
 * Tree, or age; each owner's own tasks by their priority), holds back what the quotas, budgets and
 * guarantees do not let start (writing the pending reason), and offers the rest to the manager's
 * opening until it is full. Decisions run one at a time, across every pool, which is what makes the
 * gate race-free (docs/architecture.md, "No race"); so do reclaims (preempting borrowed tasks for a
 * group that needs its guarantee back). The queue is held in memory (`QueueIndex`).
 */
export class Scheduler implements Dispatcher {
  // Decisions run one at a time, so two openings never fill the same quota room twice.
  private deciding: Promise<unknown> = Promise.resolve();
  private readonly index = new QueueIndex();
  private readonly lastFullPass = new Map<string, number>();
  private lastResync = Date.now();
  private reclaimTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      logger: Logger;
      clock: Clock;
      tasks: TaskService;
      users: Pick<UserService, 'requireById'>;
      /** The pools, each with its manager: told when their queue has work. */
      pools: () => Pools;
      /** Quotas (the gate every placement passes), fair-share usage, guarantees. */
      quotas: QuotaService;
      guarantees: Pick<GuaranteeService, 'records' | 'statuses'>;
      /** The usage ledger: run lengths for estimates. */
      usage: Pick<UsageService, 'recentRuns' | 'windowRuns'>;
      options: SchedulerOptions;
      /**
       * Several masters: whether this one leads now, by its own clock (ha/leadership.ts). Only the
       * leader decides, so the one-at-a-time section stays the only one; a master whose lease may
       * have run out stops before another can take over (its writes are fenced besides).
       */
      leading?: () => boolean;
      /** Told how long each decision for a polling agent took, and whether it assigned a task (metrics). */
      onDecision?: (seconds: number, assigned: boolean) => void;
    },
  ) {}

  /** Entry point for every newly QUEUED task: its pool's manager offers it the room it has. */
  taskQueued(task: TaskRow): void {
    this.deps.logger.debug({ taskId: task.id, pool: task.pool }, 'task queued');
    this.index.add(task);
    this.deps.pools().find(task.pool)?.workQueued();
    this.reclaimSoon();
  }

  /** A task left the queue (placed, or killed while queued). */
  taskLeftQueue(taskId: number): void {
    this.index.remove(taskId);
  }

  /**
   * Room may have opened (an agent registered or was enabled, a run ended, a quota changed):
   * every pool whose queue holds work is offered it again. Every pool, not only the one a run
   * ended in: quotas count across pools, so room under a quota opens in all of them.
   */
  capacityChanged(): void {
    for (const manager of this.deps.pools().all()) {
      // Fired and forgotten by whoever freed the room (a report, a kill, the monitor): a store that
      // fails here (or is already closed, as the master shuts down) must not take the master down.
      this.hasWork(manager.pool).then(
        (has) => has && manager.workQueued(),
        (error: unknown) => this.deps.logger.warn({ err: error, pool: manager.pool }, 'could not look for queued work'),
      );
    }
    this.reclaimSoon();
  }

  async hasWork(pool: string): Promise<boolean> {
    if (this.index.isLoaded) return this.index.size(pool) > 0;
    return this.deps.tasks.hasQueued(pool);
  }

  dispatch(pool: string, opening: Opening): Promise<DispatchResult> {
    return this.inSection(async () => {
      const started = performance.now();
      const result = await this.dispatchNow(pool, opening);
      this.deps.onDecision?.((performance.now() - started) / 1000, result.placed.length > 0);
      return result;
    });
  }

  /**
   * Reclaim, for the master's monitor (every second) and soon after work is queued: where a group
   * needs room within its guarantee that its siblings borrowed, their newest borrowed tasks are
   * preempted (stopped with the grace period, then queued again). Inside the section, so that what
   * it counts does not change under it.
   */
  reclaim(): Promise<void> {
    return this.inSection(() => this.reclaimNow());
  }

  /** `GET /queue`: each pool's queue in the order the scheduler tries it, and every guarantee's figures. */
  async queueView(): Promise<QueueView> {
    await this.ready();
    const ctx = await this.context();
    const usage = await this.deps.quotas.scores(ctx.active);
    const names = new Map<number, string>();
    const items: QueueEntry[] = [];
    for (const pool of this.deps.pools().names()) {
      let position = 0;
      for (const entry of dispatchOrder(this.index.associations(pool), ctx.ranks)) {
        const owner = entry.row.owner_id;
        if (!names.has(owner)) names.set(owner, (await this.deps.users.requireById(owner)).username);
        items.push({
          position: ++position,
          id: entry.row.id,
          name: entry.row.name,
          owner: names.get(owner)!,
          group: entry.row.group_path,
          pool,
          createdAt: new Date(entry.row.created_at).toISOString(),
          usage: Math.round(usage.get(owner)?.score ?? 0),
          priority: entry.priority,
          preemptible: entry.load.preemptible,
          // The layers as they stand now; else what the last pass found (no agent fits).
          pendingReason: ctx.snapshot.gate.blocked(entry.load) ?? (isSchedulerReason(entry.reason) ? null : entry.reason),
        });
      }
    }
    return { policy: this.deps.options.policy, items, guarantees: await this.guaranteeStatuses(ctx) };
  }

  /** Every guarantee with what its group holds, borrows and lends now. */
  async guaranteeStatuses(ctx?: Context): Promise<GuaranteeStatus[]> {
    const context = ctx ?? (await this.context());
    const statuses = await this.deps.guarantees.statuses(context.snapshot.rules, context.active, this.index.demand());
    return statuses.map((s) => s.status);
  }

  /** `yard why ID`: every reason holding the task, where it could run, its place in the queue and when it may start. */
  async why(task: TaskWithOwner): Promise<TaskWhy> {
    await this.ready();
    const ctx = await this.context();
    return explainTask(task, {
      index: this.index,
      ctx,
      clock: this.deps.clock,
      policy: this.deps.options.policy,
      pools: this.deps.pools(),
      users: this.deps.users,
      usage: this.deps.usage,
      order: (pool) => dispatchOrder(this.index.associations(pool), ctx.ranks),
      activeRows: () => this.deps.tasks.activeRows(),
    });
  }

  private inSection<T>(work: () => Promise<T>): Promise<T> {
    const run = this.deciding.then(work);
    this.deciding = run.catch(() => undefined);
    return run;
  }

  /**
   * This master leads from now on (several masters): tasks were queued and placed through
   * another while it stood by, so its queue in memory is read again from the store before it
   * decides anything.
   */
  leadershipBegan(): void {
    this.lastResync = 0;
  }

  private async ready(): Promise<void> {
    const read = () => this.deps.tasks.queuedRows();
    await this.index.ready(read);
    if (Date.now() - this.lastResync > RESYNC_MS) {
      this.lastResync = Date.now();
      await this.index.resync(read);
    }
  }

  /** What a decision reads once: what tasks hold, the quota snapshot, the fair-share ranks and the runtime limits. */
  private async context(pool?: string): Promise<Context> {
    const { quotas, options } = this.deps;
    const active = await quotas.activeLoads();
    const snapshot = await quotas.snapshot(active, this.index.demand());
    let ranks: Map<string, number> | undefined;
    const wanted = new Set(pool === undefined ? this.index.pools().flatMap((p) => [...this.index.associations(p).keys()]) : this.index.associations(pool).keys());
    if (options.policy === 'fair_share' && wanted.size > 1) {
      ranks = fairTreeRanks([...snapshot.rules.groups.values()], await quotas.associationScores(active), wanted);
    }
    return { active, snapshot, ranks, limits: await quotas.runtimeLimits() };
  }

  /**
   * One decision, inside the one-at-a-time section: the snapshot (the gate), the order, the check and
   * the placement. Use grows only through placements, all made here one at a time, so nothing can use
   * the room the gate saw between its snapshot and a placement. The walk stops once the opening is
   * full, unless a pass over the whole queue is due (once a second per pool), which also writes the
   * reason of every task it passes (a quota's, a budget's, a guarantee's; else the manager's last, or
   * none: its turn has not come). Reasons are written only when they changed, in one batch.
   */
  private async dispatchNow(pool: string, opening: Opening): Promise<DispatchResult> {
    const leading = this.deps.leading ?? (() => true);
    if (!leading()) return { placed: [], heldByQuotas: false };
    await this.ready();
    const associations = this.index.associations(pool);
    if (associations.size === 0) return { placed: [], heldByQuotas: false };
    const ctx = await this.context(pool);
    const gate = ctx.snapshot.gate;
    const total = this.index.size(pool);
    const fullPass = Date.now() - (this.lastFullPass.get(pool) ?? 0) >= REASON_PASS_MS;
    const changes: Array<{ id: number; reason: string | null }> = [];
    const note = (entry: QueuedTask, reason: string | null) => {
      if (reason === entry.reason) return;
      this.index.setReason(entry, reason);
      changes.push({ id: entry.row.id, reason });
    };
    // Tasks of one owner, group and shape meet the same layers: asked once per decision (until a placement).
    let memo = new Map<string, string | null>();
    const blocked = (entry: QueuedTask) => {
      if (!gate.active) return null;
      const l = entry.load;
      const key = `${entry.association}|${l.pool}|${l.gpus}|${l.cpu}|${l.memory}|${l.preemptible}`;
      let reason = memo.get(key);
      if (reason === undefined) memo.set(key, (reason = gate.blocked(l)));
      return reason;
    };
    const placed: TaskRow[] = [];
    let seen = 0;
    let allHeld = true;
    for (const entry of dispatchOrder(associations, ctx.ranks)) {
      seen += 1;
      const reason = blocked(entry);
      if (placed.length >= opening.limit) {
        // The opening is full: only reasons now.
        note(entry, reason ?? (isSchedulerReason(entry.reason) ? null : entry.reason));
        continue;
      }
      if (reason !== null) {
        note(entry, reason);
        continue;
      }
      allHeld = false;
      if (!leading()) break;
      const result = await opening.place({ task: entry.row, spec: entry.spec, maxRuntimeMs: ctx.limits.tightest(entry.load)?.maxRuntimeMs ?? null });
      if ('pending' in result) {
        note(entry, result.pending);
        continue;
      }
      if ('gone' in result) {
        this.index.remove(entry.row.id);
        continue;
      }
      gate.charge(entry.load);
      memo = new Map();
      placed.push(result.placed);
      if (placed.length >= opening.limit && !fullPass) break;
    }
    if (seen === total) this.lastFullPass.set(pool, Date.now());
    await this.deps.tasks.setPendingReasons(changes);
    return { placed, heldByQuotas: placed.length === 0 && allHeld && seen === total };
  }

  private async reclaimNow(): Promise<void> {
    if ((await this.deps.guarantees.records()).length === 0) return;
    await this.ready();
    const ctx = await this.context();
    const { cohorts } = ctx.snapshot;
    for (const pool of cohorts.pools()) {
      const manager = this.deps.pools().find(pool);
      if (!manager) continue;
      const { capacity, nodes } = await manager.capacity();
      if (nodes === 0) continue;
      for (const { victim, reason } of cohorts.reclaim(pool, { gpus: capacity.gpus, cpu: capacity.cpu }, ctx.active)) {
        const task = await this.deps.tasks.require(victim.id).catch(() => undefined);
        if (!task) continue;
        if (await this.deps.tasks.preempt(task, reason)) this.deps.logger.info({ taskId: task.id, pool, reason }, 'task preempted');
      }
    }
  }

  /** Soon after work is queued or room changes, where guarantees exist: many events, one reclaim. */
  private reclaimSoon(): void {
    if (this.reclaimTimer) return;
    this.reclaimTimer = setTimeout(() => {
      this.reclaimTimer = undefined;
      this.reclaim().catch((error: unknown) => this.deps.logger.error({ err: error }, 'reclaim failed'));
    }, 50);
    this.reclaimTimer.unref();
  }

  close(): void {
    clearTimeout(this.reclaimTimer);
  }
}
