import type { Logger } from 'pino';
import type { RunSpec } from '@trainyard/shared';
import type { TaskRow } from '../db/schema.js';
import type { QuotaService } from '../quotas/quota-service.js';
import type { ActiveLoad, TaskLoad } from '../quotas/quota-repository.js';
import type { Dispatcher, DispatchResult, Opening } from '../resource-managers/resource-manager.js';
import type { Pools } from '../resource-managers/pools.js';
import { runSpecOf } from '../tasks/task-mapper.js';
import type { TaskService } from '../tasks/task-service.js';

export interface SchedulerOptions {
  /** `fair_share`: owners with less recent usage first, then the oldest task; `fifo`: the oldest task. */
  policy: 'fifo' | 'fair_share';
}

// How far down the queue one decision looks for a task that may start: the oldest tasks of each
// owner in each group, so that one long queue (held back by a quota, say) never hides everyone else's.
const QUEUE_SCAN = 200;
const QUEUE_SCAN_PER_HEAD = 20;

export type DispatchGateOf = Awaited<ReturnType<QuotaService['gate']>>;

/**
 * Decides whether and in which order queued tasks may start; the pools' resource managers decide
 * where and how they run (resource-managers/resource-manager.ts). A manager with room (an agent
 * asking for work) asks for a decision over its pool's queue: the scheduler orders the queue
 * (fair share or age), holds back what the quotas do not let start (writing the pending reason),
 * and offers the rest to the manager's opening until it is full. Decisions run one at a time,
 * across every pool, which is what makes the quota gate race-free (docs/architecture.md, "No race").
 */
export class Scheduler implements Dispatcher {
  // Decisions run one at a time, so two openings never fill the same quota room twice.
  private deciding: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      logger: Logger;
      tasks: TaskService;
      /** The pools, each with its manager: told when their queue has work. */
      pools: () => Pools;
      /** Quotas (the gate every placement passes) and fair-share usage. */
      quotas: Pick<QuotaService, 'anyQuota' | 'activeLoads' | 'gate' | 'scores' | 'runtimeLimits'>;
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
  taskQueued(task: Pick<TaskRow, 'id' | 'pool'>): void {
    this.deps.logger.debug({ taskId: task.id, pool: task.pool }, 'task queued');
    this.deps.pools().find(task.pool)?.workQueued();
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
  }

  hasWork(pool: string): Promise<boolean> {
    return this.deps.tasks.hasQueued(pool);
  }

  dispatch(pool: string, opening: Opening): Promise<DispatchResult> {
    const run = this.deciding.then(async () => {
      const started = performance.now();
      const result = await this.dispatchNow(pool, opening);
      this.deps.onDecision?.((performance.now() - started) / 1000, result.placed.length > 0);
      return result;
    });
    this.deciding = run.catch(() => undefined);
    return run;
  }

  /**
   * One decision, inside the one-at-a-time section: the quota snapshot (the gate), the order, the
   * check and the placement. Quota use grows only through placements, all made here one at a time,
   * so nothing can use the room the gate saw between its snapshot and the placement. Tasks passed
   * over get their pending reason, written only when it changed.
   */
  private async dispatchNow(pool: string, opening: Opening): Promise<DispatchResult> {
    const { tasks } = this.deps;
    const leading = this.deps.leading ?? (() => true);
    if (!leading()) return { placed: [], heldByQuotas: false };
    const queue = await this.dispatchOrder(pool);
    const placed: TaskRow[] = [];
    // Read once a candidate gets that far (cached rules): what the manager may pass on as a time limit.
    let limits: Awaited<ReturnType<QuotaService['runtimeLimits']>> | undefined;
    // Held by quotas: every task seen waits for a quota, and no task went unseen.
    let allHeld = queue.items.length > 0 && queue.items.length < QUEUE_SCAN;
    for (const { task, spec, load } of queue.items) {
      const quotaReason = queue.gate.blocked(load);
      if (quotaReason !== null) {
        if (quotaReason !== task.pending_reason) await tasks.setPendingReason(task.id, quotaReason);
        continue;
      }
      allHeld = false;
      if (!leading()) break;
      limits ??= await this.deps.quotas.runtimeLimits();
      const result = await opening.place({ task, spec, maxRuntimeMs: tightestRuntime(limits, load) });
      if ('pending' in result) {
        if (result.pending !== task.pending_reason) await tasks.setPendingReason(task.id, result.pending);
        continue;
      }
      if ('gone' in result) continue;
      queue.gate.charge(load);
      placed.push(result.placed);
      if (placed.length >= opening.limit) break;
    }
    return { placed, heldByQuotas: placed.length === 0 && allHeld };
  }

  /**
   * The head of a pool's queue (or, for `yard queue`, of every pool's) in the order the scheduler
   * tries it, with the quota gate and each owner's fair-share score. Under fair_share, owners with
   * less decayed usage come first, then the oldest task; one owner alone is plain age order.
   */
  async dispatchOrder(pool?: string): Promise<{ items: Array<{ task: TaskRow; spec: RunSpec; load: TaskLoad; usage: number }>; gate: DispatchGateOf }> {
    const { tasks, quotas, options } = this.deps;
    const candidates = await tasks.queuedHeads(pool, QUEUE_SCAN_PER_HEAD, QUEUE_SCAN);
    if (candidates.length === 0) return { items: [], gate: await quotas.gate([]) };
    const fair = options.policy === 'fair_share' && new Set(candidates.map((c) => c.owner_id)).size > 1;
    const loads: ActiveLoad[] | undefined = fair || (await quotas.anyQuota()) ? await quotas.activeLoads() : undefined;
    const gate = await quotas.gate(loads ?? []);
    const scores = fair ? await quotas.scores(loads ?? []) : undefined;
    const items = candidates.map((task) => {
      const spec = runSpecOf(task);
      const r = spec.resources;
      const load: TaskLoad = { ownerId: task.owner_id, groupId: task.group_id, cpu: r.cpu ?? 1, memory: r.memory ?? 0, gpus: r.gpus };
      return { task, spec, load, usage: scores?.get(task.owner_id)?.score ?? 0 };
    });
    if (fair) items.sort((a, b) => a.usage - b.usage || a.task.id - b.task.id);
    return { items, gate };
  }
}

/** The tightest max_runtime of the owner's and the group's quotas, or null. */
function tightestRuntime(limits: Awaited<ReturnType<QuotaService['runtimeLimits']>>, load: TaskLoad): number | null {
  const runtimes = [limits.byUser.get(load.ownerId), load.groupId === null ? undefined : limits.byGroup.get(load.groupId)]
    .map((q) => q?.maxRuntimeMs ?? null)
    .filter((ms): ms is number => ms !== null);
  return runtimes.length === 0 ? null : Math.min(...runtimes);
}
