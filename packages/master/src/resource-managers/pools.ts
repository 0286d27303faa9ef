import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { TaskRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { Dispatcher, ExecTarget, LiveRun, ResourceManager } from './resource-manager.js';

/** The pool every task and agent is in when nothing names another. */
export const DEFAULT_POOL = 'default';

/**
 * The pools of this master, each one resource manager, by name: where the task service, the
 * scheduler, the proxy and the monitor find the manager of a task or a pool.
 */
export class Pools {
  private readonly managers: Map<string, ResourceManager>;

  constructor(
    managers: readonly ResourceManager[],
    /** What the pools share and close last (the agents' channel). */
    private readonly onClose: () => void = () => undefined,
  ) {
    this.managers = new Map(managers.map((m) => [m.pool, m]));
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

  get(pool: string): ResourceManager {
    const manager = this.managers.get(pool);
    if (!manager) throw new DomainError('POOL_NOT_FOUND', `pool '${pool}' does not exist (pools: ${this.names().join(', ')})`);
    return manager;
  }

  /** Hands each manager the scheduler's dispatcher and lets it reconcile (see ResourceManager.start). */
  async start(dispatcher: Dispatcher): Promise<void> {
    for (const manager of this.managers.values()) await manager.start(dispatcher);
  }

  /** A kill recorded on a task that a pool placed: its manager carries it out. */
  kill(task: TaskRow): void {
    this.forTask(task)?.kill(task);
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
    this.onClose();
  }

  private forTask(task: Pick<TaskRow, 'id'>): ResourceManager | undefined {
    return this.managers.get(DEFAULT_POOL);
  }

  private liveManager(run: LiveRun): ResourceManager {
    const manager = this.managers.get(run.pool);
    if (!manager) throw new DomainError('BAD_GATEWAY', `task ${run.taskId} runs in pool '${run.pool}', which this master no longer has (master.yaml pools)`);
    return manager;
  }
}
