import type { RunSpec } from '@trainyard/shared';
import type { TaskRow } from '../db/schema.js';
import type { QueuedDemand } from '../quotas/cohorts.js';
import { associationKey } from '../quotas/fair-tree.js';
import type { TaskLoad } from '../quotas/quota-repository.js';
import { runSpecOf } from '../tasks/task-mapper.js';

/** A queued task as the scheduler holds it: its row and run spec, what it asks for, and the reason last written on it. */
export interface QueuedTask {
  row: TaskRow;
  spec: RunSpec;
  load: TaskLoad;
  /** Its owner and the group it is charged to (`user:group`): the unit of fair share. */
  association: string;
  priority: number;
  /** The pending reason written on it (null: none). */
  reason: string | null;
}

/** Reasons the scheduler itself gives (quotas, budgets, guarantees): a task held by one asks for nothing the pool could give. */
export const isSchedulerReason = (reason: string | null): boolean => reason !== null && /^(QUOTA_|BUDGET_|NO_BORROW_|BORROW_LIMIT_|COHORT_)/.test(reason);

/** A task's row as the scheduler holds it. */
export function queuedTaskOf(row: TaskRow): QueuedTask {
  const spec = runSpecOf(row);
  const r = spec.resources;
  return {
    row,
    spec,
    load: { ownerId: row.owner_id, groupId: row.group_id, pool: row.pool, cpu: r.cpu ?? 1, memory: r.memory ?? 0, gpus: r.gpus, preemptible: row.preemptible !== 0 },
    association: associationKey(row.owner_id, row.group_id),
    priority: row.priority ?? 0,
    reason: row.pending_reason,
  };
}

/** The owner's own order: higher priority first, then the oldest. */
const before = (a: QueuedTask, b: QueuedTask) => b.priority - a.priority || a.row.id - b.row.id;

/**
 * Every queued task, in memory (issue 26: pending reasons for every queued task, and a decision
 * over 10,000 of them in a few milliseconds, where the scheduler used to read the first 200 by id).
 * Per pool, per association (owner and group), in the owner's own order. Loaded once from the tasks
 * table; kept by the task service's events (a task queued: `add`; it left the queue: `remove`),
 * which follow every commit. The table stays the truth: a placement is a conditional update of a
 * QUEUED row, so an entry that went stale is found `gone` and dropped, and the scheduler reads the
 * table again every so often (`resync`). One master dispatches (docs/architecture.md, "Several masters").
 */
export class QueueIndex {
  private readonly byId = new Map<number, QueuedTask>();
  private readonly byPool = new Map<string, Map<string, QueuedTask[]>>();
  /** What the queue asks for per pool and group, of tasks no quota holds back (guarantees' demand). */
  private readonly demandBy = new Map<string, QueuedDemand>();
  private loaded = false;
  private loading: Promise<void> | undefined;
  /** Removed while a load was reading the table: not added back from its (older) rows. */
  private readonly removedWhileLoading = new Set<number>();

  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Loads the queue once (and again on `resync`); events that arrive meanwhile are kept. */
  async ready(read: () => Promise<TaskRow[]>): Promise<void> {
    if (this.loaded) return;
    this.loading ??= (async () => {
      this.removedWhileLoading.clear();
      const rows = await read();
      for (const row of rows) if (!this.removedWhileLoading.has(row.id) && !this.byId.has(row.id)) this.insert(row);
      this.removedWhileLoading.clear();
      this.loaded = true;
    })().finally(() => (this.loading = undefined));
    await this.loading;
  }

  /** Reads the table again from scratch (a safety net against anything queued or dequeued behind the events' back). */
  async resync(read: () => Promise<TaskRow[]>): Promise<void> {
    const rows = await read();
    const current = new Set(rows.map((r) => r.id));
    for (const id of [...this.byId.keys()]) if (!current.has(id)) this.remove(id);
    for (const row of rows) if (!this.byId.has(row.id)) this.insert(row);
  }

  add(row: TaskRow): void {
    if (row.state !== 'QUEUED') return;
    this.remove(row.id);
    this.removedWhileLoading.delete(row.id);
    this.insert(row);
  }

  remove(id: number): void {
    if (this.loading) this.removedWhileLoading.add(id);
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    this.countDemand(entry, -1);
    const associations = this.byPool.get(entry.row.pool);
    const list = associations?.get(entry.association);
    if (!list) return;
    const at = list.indexOf(entry);
    if (at !== -1) list.splice(at, 1);
    if (list.length === 0) associations!.delete(entry.association);
    if (associations!.size === 0) this.byPool.delete(entry.row.pool);
  }

  get(id: number): QueuedTask | undefined {
    return this.byId.get(id);
  }

  /** Notes the reason written on a task (held by a quota or not changes what it asks of its pool). */
  setReason(entry: QueuedTask, reason: string | null): void {
    if (!this.byId.has(entry.row.id)) {
      entry.reason = reason;
      return;
    }
    this.countDemand(entry, -1);
    entry.reason = reason;
    entry.row = { ...entry.row, pending_reason: reason };
    this.countDemand(entry, 1);
  }

  /** The pool's queue by association, each in its owner's order (do not change them: copy to walk while placing). */
  associations(pool: string): Map<string, QueuedTask[]> {
    return this.byPool.get(pool) ?? new Map();
  }

  pools(): string[] {
    return [...this.byPool.keys()];
  }

  size(pool?: string): number {
    if (pool === undefined) return this.byId.size;
    let n = 0;
    for (const list of this.associations(pool).values()) n += list.length;
    return n;
  }

  /** What the queue asks for, per pool and group, of tasks no quota or budget holds back. */
  demand(): QueuedDemand[] {
    return [...this.demandBy.values()].filter((d) => d.gpus > 0 || d.cpu > 0);
  }

  private insert(row: TaskRow): void {
    const entry = queuedTaskOf(row);
    this.byId.set(row.id, entry);
    let associations = this.byPool.get(row.pool);
    if (!associations) this.byPool.set(row.pool, (associations = new Map()));
    let list = associations.get(entry.association);
    if (!list) associations.set(entry.association, (list = []));
    // Mostly an append (a new task is the newest); a binary search for the rest.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(list[mid]!, entry) < 0) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, entry);
    this.countDemand(entry, 1);
  }

  private countDemand(entry: QueuedTask, sign: 1 | -1): void {
    if (isSchedulerReason(entry.reason)) return;
    const key = `${entry.row.pool}|${entry.row.group_id ?? 0}`;
    let d = this.demandBy.get(key);
    if (!d) this.demandBy.set(key, (d = { pool: entry.row.pool, groupId: entry.row.group_id, gpus: 0, cpu: 0 }));
    d.gpus += sign * entry.load.gpus;
    d.cpu += sign * entry.load.cpu;
    if (Math.abs(d.gpus) < 1e-9 && Math.abs(d.cpu) < 1e-9) this.demandBy.delete(key);
  }
}

/**
 * The order the scheduler tries a pool's queue in: associations by rank (Fair Tree; undefined: all
 * equal, as fifo), and among equal ranks the oldest head first, each association's tasks in the
 * owner's own order. A heap over the associations' heads: a full walk of n tasks over a
 * associations costs n log a. Walks copies, so placements may change the index meanwhile.
 */
export function* dispatchOrder(associations: Map<string, QueuedTask[]>, ranks: Map<string, number> | undefined): Generator<QueuedTask> {
  interface Cursor {
    rank: number;
    list: QueuedTask[];
    at: number;
  }
  const heap: Cursor[] = [];
  const less = (a: Cursor, b: Cursor) => a.rank - b.rank || a.list[a.at]!.row.id - b.list[b.at]!.row.id;
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(heap[i]!, heap[p]!) >= 0) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l]!, heap[m]!) < 0) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!) < 0) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (const [key, list] of associations) {
    if (list.length === 0) continue;
    heap.push({ rank: ranks?.get(key) ?? 0, list: list.slice(), at: 0 });
    up(heap.length - 1);
  }
  while (heap.length > 0) {
    const top = heap[0]!;
    yield top.list[top.at]!;
    top.at += 1;
    if (top.at < top.list.length) down(0);
    else {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        down(0);
      }
    }
  }
}
