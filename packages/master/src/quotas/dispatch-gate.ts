import { budgetPendingReason, perUserPendingReason, quotaPendingReason, type DispatchResource, type WhyCheck } from '@trainyard/shared';
import type { BudgetAccount, BudgetSnapshot } from './budgets.js';
import type { Cohorts } from './cohorts.js';
import type { ActiveLoad, QuotaRecord, TaskLoad } from './quota-repository.js';
import type { QuotaRules } from './quota-rules.js';

interface Use {
  running: number;
  cpu: number;
  memory: number;
  gpus: number;
}

const emptyUse = (): Use => ({ running: 0, cpu: 0, memory: 0, gpus: 0 });
const RESOURCES: DispatchResource[] = ['running', 'gpus', 'cpu', 'memory'];
const LIMIT_OF: Record<DispatchResource, (q: Pick<QuotaRecord, 'maxRunning' | 'cpu' | 'memory' | 'gpus'>) => number | null> = {
  running: (q) => q.maxRunning,
  cpu: (q) => q.cpu,
  memory: (q) => q.memory,
  gpus: (q) => q.gpus,
};
export const ASK_OF: Record<DispatchResource, (load: Pick<TaskLoad, 'cpu' | 'memory' | 'gpus'>) => number> = {
  running: () => 1,
  cpu: (l) => l.cpu,
  memory: (l) => l.memory,
  gpus: (l) => l.gpus,
};

export function addUse(use: Use, load: Pick<TaskLoad, 'cpu' | 'memory' | 'gpus'>): void {
  use.running += 1;
  use.cpu += load.cpu;
  use.memory += load.memory;
  use.gpus += load.gpus;
}

/** The first dispatch limit of `limits` that `load` would push past, given what is in use. */
export function over(limits: Pick<QuotaRecord, 'maxRunning' | 'cpu' | 'memory' | 'gpus'>, use: Use, load: Pick<TaskLoad, 'cpu' | 'memory' | 'gpus'>): { resource: DispatchResource; used: number; limit: number } | undefined {
  for (const resource of RESOURCES) {
    const limit = LIMIT_OF[resource](limits);
    if (limit !== null && use[resource] + ASK_OF[resource](load) > limit) return { resource, used: use[resource], limit };
  }
  return undefined;
}

/** Whether a quota counts tasks of `pool` (a quota of one pool counts only that pool's). */
const countsIn = (quota: QuotaRecord, pool: string) => quota.pool === null || quota.pool === pool;

// Use is kept per principal, for all pools and per pool (a quota may count one pool only).
const userKey = (ownerId: number, pool: string | null) => (pool === null ? `u${ownerId}` : `u${ownerId}@${pool}`);
const groupKey = (groupId: number, pool: string | null) => (pool === null ? `g${groupId}` : `g${groupId}@${pool}`);
const memberKey = (groupId: number, ownerId: number, pool: string | null) => (pool === null ? `p${groupId}:${ownerId}` : `p${groupId}:${ownerId}@${pool}`);
const cohortKey = (pool: string, groupId: number) => `c${groupId}@${pool}`;

/**
 * What the scheduler asks before it places a task: a snapshot of what every covered principal
 * holds, taken inside the scheduler's one-at-a-time section. Use grows only through placements,
 * which all pass through that section, so between this snapshot and a placement it can only shrink
 * (a run ended): a decision never overshoots a limit. `charge` counts a placement made.
 *
 * The layers, in the order a task meets them: its owner's quotas; the quotas of its group and of
 * every group above it, each counting its whole subtree, with the owner's share of each (`per
 * user`); the budgets over time of the owner and of those groups; its group's guarantee in its
 * pool (borrowing, `Cohorts`). `blocked` gives the first that holds; `explain` every check.
 */
export class DispatchGate {
  private readonly used = new Map<string, Use>();

  constructor(
    private readonly rules: QuotaRules,
    active: ActiveLoad[],
    private readonly budgets: BudgetSnapshot,
    private readonly cohorts: Cohorts | undefined,
  ) {
    if (rules.any) for (const load of active) this.count(load);
  }

  /** Whether anything can hold a task back at all (no quota and no guarantee: nothing). */
  get active(): boolean {
    return this.rules.any || (this.cohorts?.any ?? false);
  }

  /** Why `task` must wait (a pending reason), or null when every layer covering it has room. */
  blocked(task: TaskLoad): string | null {
    if (!this.active) return null;
    return this.evaluate(task);
  }

  /**
   * Every check made for `task`, holding or not, and the first reason; `keys[i]` names what check
   * i counts (the use key of its principal: `keysOf` says whether another task counts there too).
   */
  explain(task: TaskLoad): { reason: string | null; checks: WhyCheck[]; keys: string[] } {
    const checks: WhyCheck[] = [];
    const keys: string[] = [];
    const reason = this.evaluate(task, checks, keys);
    return { reason, checks, keys };
  }

  /** Every use key a task counts in (its owner's, its groups', its share in them, its guarantee's). */
  keysOf(load: TaskLoad): Set<string> {
    const keys = new Set<string>([userKey(load.ownerId, null), userKey(load.ownerId, load.pool)]);
    for (const layer of this.rules.groupLayers(load.groupId)) {
      keys.add(groupKey(layer.id, null)).add(groupKey(layer.id, load.pool));
      keys.add(memberKey(layer.id, load.ownerId, null)).add(memberKey(layer.id, load.ownerId, load.pool));
    }
    const member = this.cohorts?.memberOf(load.groupId, load.pool);
    if (member) keys.add(cohortKey(member.guarantee.pool, member.guarantee.groupId));
    return keys;
  }

  charge(task: TaskLoad): void {
    if (this.rules.any) this.count(task);
    this.cohorts?.charge(task);
  }

  /** What a principal holds now (for `quota show`). */
  useOf(key: { ownerId: number; groupId?: undefined } | { groupId: number; ownerId?: number }, pool: string | null): Use {
    const k = key.groupId === undefined ? userKey(key.ownerId, pool) : key.ownerId === undefined ? groupKey(key.groupId, pool) : memberKey(key.groupId, key.ownerId, pool);
    return this.used.get(k) ?? emptyUse();
  }

  private count(load: TaskLoad): void {
    const add = (key: string) => {
      let use = this.used.get(key);
      if (!use) this.used.set(key, (use = emptyUse()));
      addUse(use, load);
    };
    if (this.rules.byUser.has(load.ownerId)) {
      add(userKey(load.ownerId, null));
      add(userKey(load.ownerId, load.pool));
    }
    for (const layer of this.rules.groupLayers(load.groupId)) {
      add(groupKey(layer.id, null));
      add(groupKey(layer.id, load.pool));
      if (layer.quotas.some((q) => q.perUser !== null)) {
        add(memberKey(layer.id, load.ownerId, null));
        add(memberKey(layer.id, load.ownerId, load.pool));
      }
    }
  }

  private evaluate(task: TaskLoad, collect?: WhyCheck[], keys?: string[]): string | null {
    // Each check collected gets the key of the use it counts (keys stays as long as collect).
    const keyed = (key: string) => {
      while (keys && collect && keys.length < collect.length) keys.push(key);
    };
    let first: string | null = null;
    // With `collect`, every check is made; without, the first that holds is the answer.
    const holds = (reason: string): boolean => {
      first ??= reason;
      return collect === undefined;
    };
    const limits = (
      quota: QuotaRecord,
      layer: WhyCheck['layer'],
      via: string,
      caps: Pick<QuotaRecord, 'maxRunning' | 'cpu' | 'memory' | 'gpus'>,
      use: Use,
      reasonOf: (resource: DispatchResource) => string,
      key: string,
    ): boolean => {
      for (const resource of RESOURCES) {
        const limit = LIMIT_OF[resource](caps);
        if (limit === null) continue;
        const ask = ASK_OF[resource](task);
        const hit = use[resource] + ask > limit;
        collect?.push({ layer, name: quota.name, via, resource, used: use[resource], ask, limit, holds: hit, reason: hit ? reasonOf(resource) : null, ...(quota.pool ? { note: `pool ${quota.pool} only` } : {}) });
        keyed(key);
        if (hit && holds(reasonOf(resource))) return true;
      }
      return false;
    };

    for (const quota of this.rules.byUser.get(task.ownerId) ?? []) {
      if (!countsIn(quota, task.pool)) continue;
      const key = userKey(task.ownerId, quota.pool);
      const use = this.used.get(key) ?? emptyUse();
      if (limits(quota, 'quota', 'user (own tasks)', quota, use, (r) => quotaPendingReason(r, null), key)) return first;
      if (quota.perUser && limits(quota, 'per_user', 'user (per user)', quota.perUser, use, (r) => quotaPendingReason(r, null), key)) return first;
    }
    const layers = this.rules.groupLayers(task.groupId);
    for (const layer of layers) {
      const via = layer.id === task.groupId ? `group ${layer.path}` : `group ${layer.path} (its subtree)`;
      for (const quota of layer.quotas) {
        if (!countsIn(quota, task.pool)) continue;
        const key = groupKey(layer.id, quota.pool);
        const use = this.used.get(key) ?? emptyUse();
        if (limits(quota, 'quota', via, quota, use, (r) => quotaPendingReason(r, layer.path), key)) return first;
        if (quota.perUser) {
          const mineKey = memberKey(layer.id, task.ownerId, quota.pool);
          const mine = this.used.get(mineKey) ?? emptyUse();
          if (limits(quota, 'per_user', `${via}, each member`, quota.perUser, mine, (r) => perUserPendingReason(r, layer.path), mineKey)) return first;
        }
      }
    }
    if (this.rules.budgets) {
      const budget = (quota: QuotaRecord, account: BudgetAccount, via: string, group: string | null): boolean => {
        if (!countsIn(quota, task.pool)) return false;
        const use = this.budgets.use(quota, account);
        const lines = [
          { resource: 'gpu_hours' as const, limit: quota.gpuHours, used: use.gpuHours, asks: task.gpus > 0 },
          { resource: 'cpu_hours' as const, limit: quota.cpuHours, used: use.cpuHours, asks: true },
        ];
        for (const line of lines) {
          if (line.limit === null) continue;
          // A budget of GPU-hours holds back only tasks that would spend it.
          const hit = line.asks && line.used >= line.limit;
          const reason = budgetPendingReason(line.resource, group);
          collect?.push({
            layer: 'budget',
            name: quota.name,
            via,
            resource: line.resource,
            used: Math.round(line.used * 1000) / 1000,
            ask: 0,
            limit: line.limit,
            holds: hit,
            reason: hit ? reason : null,
            note: `over ${quota.budgetWindow === 'month' ? 'the calendar month (UTC)' : `the last ${quota.budgetWindow}`}${line.asks ? '' : '; this task asks no GPU'}`,
          });
          keyed(`b${quota.id}|${account}`);
          if (hit && holds(reason)) return true;
        }
        return false;
      };
      for (const quota of this.rules.byUser.get(task.ownerId) ?? []) {
        if ((quota.gpuHours !== null || quota.cpuHours !== null) && budget(quota, `u:${task.ownerId}`, 'user (own tasks)', null)) return first;
      }
      for (const layer of layers) {
        for (const quota of layer.quotas) {
          if ((quota.gpuHours !== null || quota.cpuHours !== null) && budget(quota, `g:${layer.id}`, `group ${layer.path}`, layer.path)) return first;
        }
      }
    }
    if (this.cohorts?.any) {
      const reason = this.cohorts.check(task, collect);
      const member = this.cohorts.memberOf(task.groupId, task.pool);
      if (member) keyed(cohortKey(member.guarantee.pool, member.guarantee.groupId));
      if (reason !== null && holds(reason)) return first;
    }
    return first;
  }
}
