import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { PoolView, RunSpec } from '@trainyard/shared';
import { toIso, type Clock } from '../clock.js';
import type { PoolConfig } from '../config/config-schema.js';
import type { TaskRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { Dispatcher, ExecTarget, LiveRun, ResourceManager } from './resource-manager.js';

/** Where pools' use and queues are read from (the tasks domain). */
export interface PoolTasks {
  markPoolsGone(pools: string[]): Promise<number>;
  poolUse(): Promise<{ active: Array<{ pool: string; resources: RunSpec['resources'] }>; queues: Array<{ pool: string; length: number; oldest: number }> }>;
}

/**
 * The pools of this master (master.yaml `pools`), each one resource manager, by name: where the
 * task service, the scheduler, admission, the proxy and the monitor find the manager of a task or
 * a pool, and what `yard pool list` shows.
 */
export class Pools {
  private readonly managers: Map<string, ResourceManager>;

  constructor(
    managers: readonly ResourceManager[],
    private readonly deps: {
      /** master.yaml `pools` (descriptions) and `default_pool`. */
      settings: Record<string, PoolConfig>;
      defaultPool: string;
      tasks: PoolTasks;
      clock: Clock;
      /** What the pools share, closed after them (the agents' channel). */
      onClose?: () => void;
    },
  ) {
    this.managers = new Map(managers.map((m) => [m.pool, m]));
  }

  get defaultPool(): string {
    return this.deps.defaultPool;
  }

  names(): string[] {
    return [...this.managers.keys()];
  }

  all(): ResourceManager[] {
    return [...this.managers.values()];
  }

  find(pool: string): ResourceManager | undefined {
    return this.managers.get(pool);
  }

  /** The pool's manager; POOL_NOT_FOUND naming the pools there are. */
  get(pool: string): ResourceManager {
    const manager = this.managers.get(pool);
    if (!manager) throw new DomainError('POOL_NOT_FOUND', `pool '${pool}' does not exist (pools: ${this.names().join(', ')})`);
    return manager;
  }

  /** Hands each manager the scheduler's dispatcher and lets it reconcile (see ResourceManager.start). */
  async start(dispatcher: Dispatcher): Promise<void> {
    for (const manager of this.managers.values()) await manager.start(dispatcher);
  }

  /**
   * Tasks queued in a pool master.yaml no longer has say so (POOL_GONE): nothing would place them.
   * The leader's write: at start (one master), or when a master begins to lead (several).
   */
  async markStranded(): Promise<number> {
    return this.deps.tasks.markPoolsGone(this.names());
  }

  /** A kill recorded on a task that a pool placed: its manager carries it out. */
  kill(task: TaskRow): void {
    this.managers.get(task.pool)?.kill(task);
  }

  connect(run: LiveRun, port: number): Promise<Duplex> {
    return this.liveManager(run).connect(run, port);
  }

  exec(run: LiveRun, target: ExecTarget): Promise<WebSocket> {
    return this.liveManager(run).exec(run, target);
  }

  async reconcile(): Promise<void> {
    await Promise.all(this.all().map((m) => m.reconcile()));
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((m) => m.close()));
    this.deps.onClose?.();
  }

  /**
   * `yard pool list`: each pool's manager and capacity (from the manager), what its tasks hold and
   * its queue (from the tasks, counted as the quotas count them). `details` (agents, partition...)
   * only for those who may see them.
   */
  async view(withDetails: boolean): Promise<PoolView[]> {
    const { active, queues } = await this.deps.tasks.poolUse();
    const now = this.deps.clock.now();
    const views: PoolView[] = [];
    for (const manager of this.managers.values()) {
      const { capacity, nodes, details, engine } = await manager.capacity();
      const use = { tasks: 0, cpu: 0, memory: 0, gpus: 0 };
      for (const { resources } of active.filter((a) => a.pool === manager.pool)) {
        use.tasks += 1;
        use.cpu += resources.cpu ?? 1;
        use.memory += resources.memory ?? 0;
        use.gpus += resources.gpus;
      }
      const queue = queues.find((q) => q.pool === manager.pool);
      views.push({
        name: manager.pool,
        manager: manager.kind,
        description: this.deps.settings[manager.pool]?.description ?? null,
        default: manager.pool === this.deps.defaultPool,
        capacity,
        nodes,
        use,
        queue: {
          length: queue?.length ?? 0,
          oldestCreatedAt: queue ? toIso(queue.oldest) : null,
          oldestWaitSeconds: queue ? Math.max(0, Math.round((now - queue.oldest) / 1000)) : null,
        },
        engine: engine ?? null,
        details: withDetails ? details : null,
      });
    }
    return views;
  }

  private liveManager(run: LiveRun): ResourceManager {
    const manager = this.managers.get(run.pool);
    if (!manager) throw new DomainError('BAD_GATEWAY', `task ${run.taskId} runs in pool '${run.pool}', which this master no longer has (master.yaml pools)`);
    return manager;
  }
}
