import type { Clock } from '../clock.js';
import type { WindowRun } from '../usage/usage-service.js';
import type { QuotaRecord } from './quota-repository.js';
import type { QuotaRules } from './quota-rules.js';

/** Whose budget: a user's own runs (`u:<id>`), or the runs charged to a group's subtree (`g:<id>`). */
export type BudgetAccount = `u:${number}` | `g:${number}`;

export interface BudgetUse {
  gpuHours: number;
  cpuHours: number;
}

/** Where a quota's budget window starts at `now`: `now - window` (rolling), or the first of the month (UTC). */
export function windowStart(quota: Pick<QuotaRecord, 'budgetWindow' | 'budgetWindowMs'>, now: number): number {
  if (quota.budgetWindow === 'month') {
    const date = new Date(now);
    return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
  }
  return now - (quota.budgetWindowMs ?? 30 * 86_400_000);
}

/** The first of next month (UTC): when a calendar-month budget starts again. */
export function nextMonth(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

/** Hours a run held inside [since, now]. */
function clipped(run: WindowRun, since: number, now: number): { gpuHours: number; cpuHours: number } {
  const hours = Math.max(0, Math.min(run.endedAt ?? now, now) - Math.max(run.startedAt, since)) / 3_600_000;
  return { gpuHours: run.gpus * hours, cpuHours: run.cpu * hours };
}

/**
 * What every budget (a quota's `gpu_hours`/`cpu_hours`) has used of its window at one moment,
 * from the usage ledger: each run clipped to the window, runs still going counted up to now. A
 * group's budget counts the runs charged to its path or below it (the path the run had then).
 */
export class BudgetSnapshot {
  private readonly used = new Map<string, BudgetUse>();

  constructor(
    readonly at: number,
    rules: QuotaRules | undefined,
    runs: WindowRun[],
  ) {
    if (!rules?.budgets) return;
    const byUser = new Map<number, QuotaRecord[]>();
    for (const [userId, quotas] of rules.byUser) {
      const budgets = quotas.filter(hasBudget);
      if (budgets.length > 0) byUser.set(userId, budgets);
    }
    const byPath = new Map<string, { groupId: number; quotas: QuotaRecord[] }>();
    for (const layer of rules.byGroup.values()) {
      const budgets = layer.quotas.filter(hasBudget);
      if (budgets.length > 0) byPath.set(layer.path, { groupId: layer.id, quotas: budgets });
    }
    const charge = (quota: QuotaRecord, account: BudgetAccount, run: WindowRun) => {
      if (quota.pool !== null && quota.pool !== run.pool) return;
      const { gpuHours, cpuHours } = clipped(run, windowStart(quota, at), at);
      if (gpuHours === 0 && cpuHours === 0) return;
      const key = `${quota.id}|${account}`;
      const use = this.used.get(key) ?? { gpuHours: 0, cpuHours: 0 };
      use.gpuHours += gpuHours;
      use.cpuHours += cpuHours;
      this.used.set(key, use);
    };
    for (const run of runs) {
      for (const quota of byUser.get(run.ownerId) ?? []) charge(quota, `u:${run.ownerId}`, run);
      if (run.groupPath === null || byPath.size === 0) continue;
      // The run's group and every group above it, by path.
      for (let path: string | null = run.groupPath; path !== null; path = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : null) {
        const holder = byPath.get(path);
        for (const quota of holder?.quotas ?? []) charge(quota, `g:${holder!.groupId}`, run);
      }
    }
  }

  /** What `account` used of `quota`'s budget in its window. */
  use(quota: QuotaRecord, account: BudgetAccount): BudgetUse {
    return this.used.get(`${quota.id}|${account}`) ?? { gpuHours: 0, cpuHours: 0 };
  }
}

export const hasBudget = (q: QuotaRecord) => q.gpuHours !== null || q.cpuHours !== null;

// The ledger's ended runs change a budget only as its window slides: read again at least this often (of the master's clock).
const CLOSED_TTL_MS = 60_000;
// Runs going on are read again at least this often (real time): they start and end all the time.
const OPEN_TTL_MS = 1_000;

/**
 * Budgets read from the usage ledger, cached: the runs that ended are read again when a run ends
 * (`invalidate`) or the master's clock moved a minute (the window slid), the runs going on once a
 * second; a snapshot is made from them for the moment asked.
 */
export class BudgetLedger {
  private closed: { since: number; at: number; runs: WindowRun[] } | undefined;
  private open: { readAt: number; runs: WindowRun[] } | undefined;
  private snapshotCache: { rules: QuotaRules; readAt: number; snapshot: BudgetSnapshot } | undefined;

  constructor(
    private readonly deps: {
      clock: Clock;
      /** The ledger's runs overlapping [since, now]: those that ended after `since`, or those still going. */
      runs: (since: number, which: 'closed' | 'open') => Promise<WindowRun[]>;
    },
  ) {}

  /** A run ended (or a quota changed): what the ledger holds is read again. */
  invalidate(): void {
    this.closed = undefined;
    this.open = undefined;
    this.snapshotCache = undefined;
  }

  async snapshot(rules: QuotaRules): Promise<BudgetSnapshot> {
    const now = this.deps.clock.now();
    if (!rules.budgets) return new BudgetSnapshot(now, undefined, []);
    const cached = this.snapshotCache;
    if (cached && cached.rules === rules && Date.now() - cached.readAt < OPEN_TTL_MS && Math.abs(now - cached.snapshot.at) < CLOSED_TTL_MS) return cached.snapshot;
    let since = now;
    for (const quotas of [...rules.byUser.values(), ...[...rules.byGroup.values()].map((l) => l.quotas)]) {
      for (const quota of quotas) if (hasBudget(quota)) since = Math.min(since, windowStart(quota, now));
    }
    if (!this.closed || since < this.closed.since || now - this.closed.at > CLOSED_TTL_MS) {
      this.closed = { since, at: now, runs: await this.deps.runs(since, 'closed') };
    }
    if (!this.open || Date.now() - this.open.readAt > OPEN_TTL_MS) this.open = { readAt: Date.now(), runs: await this.deps.runs(since, 'open') };
    const snapshot = new BudgetSnapshot(now, rules, [...this.closed.runs, ...this.open.runs]);
    this.snapshotCache = { rules, readAt: Date.now(), snapshot };
    return snapshot;
  }
}
