import { GUARANTEE_RESOURCES, guaranteePendingReason, type GuaranteeResource, type WhyCheck } from '@trainyard/shared';
import type { GuaranteeRecord } from './guarantee-repository.js';
import type { ActiveLoad, TaskLoad } from './quota-repository.js';
import type { QuotaRules } from './quota-rules.js';

type Amounts = Record<GuaranteeResource, number>;
const zero = (): Amounts => ({ gpus: 0, cpu: 0 });
const askOf = (load: Pick<TaskLoad, 'gpus' | 'cpu'>): Amounts => ({ gpus: load.gpus, cpu: load.cpu });
const round = (n: number) => Math.round(n * 1000) / 1000;
const WORDS: Record<GuaranteeResource, string> = { gpus: 'GPUs', cpu: 'CPUs' };

/** What the queue wants of a pool: the asks of queued tasks charged to one group that no quota holds back. */
export interface QueuedDemand {
  pool: string;
  groupId: number | null;
  gpus: number;
  cpu: number;
}

/** A guarantee with what its group's subtree holds and wants in its pool. */
export interface CohortMember {
  guarantee: GuaranteeRecord;
  /** The pool and the parent group: siblings with a guarantee in the same pool borrow from each other. */
  cohort: string;
  /** The parent's path, or null for a top-level group. */
  parentPath: string | null;
  /** What its tasks hold (assigned, pulling, running), those being preempted included. */
  use: Amounts;
  /** Of `use`, what tasks being preempted hold: room about to come back. */
  leaving: Amounts;
  /** What its queued tasks ask for (those no quota holds back). */
  demand: Amounts;
}

/** A running task to preempt, and why (in its log, its message and the audit log). */
export interface Reclaim {
  victim: ActiveLoad;
  reason: string;
}

/**
 * Guarantees, borrowing and reclaim (Kueue's cohorts, on Trainyard's groups). A group with a
 * guarantee in a pool may always use that much there; beyond it, a preemptible task borrows what
 * its cohort (the groups with a guarantee in the same pool under the same parent) leaves idle:
 * each sibling lends at most its lending limit of what it neither uses nor has queued, and a group
 * borrows at most its borrowing limit. A guarantee covers its group's subtree, but for subgroups
 * with a guarantee of their own in that pool. Tasks of groups with no guarantee in a pool are not
 * governed here (keep them out with the policy's pools.allow for a guarantee to be absolute).
 * Made once per scheduling decision, inside the one-at-a-time section: `charge` counts a placement.
 */
export class Cohorts {
  private readonly members = new Map<string, CohortMember>();
  private readonly cohorts = new Map<string, CohortMember[]>();
  private readonly nearest = new Map<string, CohortMember | null>();

  constructor(
    guarantees: GuaranteeRecord[],
    private readonly rules: Pick<QuotaRules, 'ancestry' | 'groups' | 'pathOf'>,
    active: ActiveLoad[],
    demand: QueuedDemand[],
  ) {
    for (const g of guarantees) {
      const parentId = rules.groups.get(g.groupId)?.parentId ?? null;
      const member: CohortMember = {
        guarantee: g,
        cohort: `${g.pool}|${parentId ?? 'top'}`,
        parentPath: parentId === null ? null : (rules.pathOf(parentId) ?? null),
        use: zero(),
        leaving: zero(),
        demand: zero(),
      };
      this.members.set(`${g.pool}|${g.groupId}`, member);
      this.cohorts.set(member.cohort, [...(this.cohorts.get(member.cohort) ?? []), member]);
    }
    if (this.members.size === 0) return;
    for (const load of active) {
      const m = this.memberOf(load.groupId, load.pool);
      if (!m) continue;
      for (const r of GUARANTEE_RESOURCES) {
        m.use[r] += askOf(load)[r];
        if (load.preempting) m.leaving[r] += askOf(load)[r];
      }
    }
    for (const d of demand) {
      const m = this.memberOf(d.groupId, d.pool);
      if (m) for (const r of GUARANTEE_RESOURCES) m.demand[r] += d[r];
    }
  }

  get any(): boolean {
    return this.members.size > 0;
  }

  /** Pools that have guarantees. */
  pools(): string[] {
    return [...new Set([...this.members.values()].map((m) => m.guarantee.pool))];
  }

  /** The guarantee covering a task charged to `groupId` in `pool`: its group's, or the nearest above it. */
  memberOf(groupId: number | null, pool: string): CohortMember | null {
    if (groupId === null || this.members.size === 0) return null;
    const key = `${pool}|${groupId}`;
    let found = this.nearest.get(key);
    if (found === undefined) {
      found = null;
      for (const id of this.rules.ancestry(groupId)) {
        const m = this.members.get(`${pool}|${id}`);
        if (m) {
          found = m;
          break;
        }
      }
      this.nearest.set(key, found);
    }
    return found;
  }

  /** In use beyond its guarantee: what it borrows. */
  borrowed(m: CohortMember, r: GuaranteeResource): number {
    const n = m.guarantee.guaranteed[r];
    return n === null ? 0 : Math.max(0, m.use[r] - n);
  }

  /** What it may lend now: of its guarantee, what it neither uses nor has queued, up to its lending limit. */
  lendable(m: CohortMember, r: GuaranteeResource): number {
    const n = m.guarantee.guaranteed[r];
    if (n === null) return 0;
    const idle = Math.max(0, n - m.use[r] - m.demand[r]);
    const limit = m.guarantee.lendingLimit[r];
    return limit === null ? idle : Math.min(limit, idle);
  }

  /** Of its guarantee, what its siblings hold now (the cohort's borrowing, shared among lenders by what each lends). */
  lent(m: CohortMember, r: GuaranteeResource): number {
    const siblings = this.cohorts.get(m.cohort) ?? [];
    const borrowed = siblings.reduce((sum, k) => sum + this.borrowed(k, r), 0);
    if (borrowed === 0) return 0;
    // What each lender gives: its guarantee less what it uses, up to its lending limit.
    const gives = (k: CohortMember) => {
      const n = k.guarantee.guaranteed[r];
      if (n === null || k.use[r] >= n) return 0;
      const limit = k.guarantee.lendingLimit[r];
      return limit === null ? n - k.use[r] : Math.min(limit, n - k.use[r]);
    };
    const total = siblings.reduce((sum, k) => sum + gives(k), 0);
    return total === 0 ? 0 : round((borrowed * gives(m)) / total);
  }

  /**
   * Why a task may not start for its guarantee (a pending-reason code), or null. Within its group's
   * guarantee it always may; beyond it only a preemptible task borrows, within the borrowing limit
   * and what the siblings leave idle. `collect` gets every check made, holding or not.
   */
  check(load: TaskLoad, collect?: WhyCheck[]): string | null {
    const m = this.memberOf(load.groupId, load.pool);
    if (!m) return null;
    const g = m.guarantee;
    const name = `guarantee ${g.group}@${g.pool}`;
    const via = `cohort ${m.parentPath ?? '(top-level groups)'} in pool ${g.pool}`;
    let first: string | null = null;
    const hold = (reason: string) => {
      first ??= reason;
      return collect !== undefined;
    };
    for (const r of GUARANTEE_RESOURCES) {
      const n = g.guaranteed[r];
      const ask = askOf(load)[r];
      if (n === null || ask === 0) continue;
      const after = m.use[r] + ask;
      collect?.push({ layer: 'guarantee', name, via, resource: `${r} guaranteed`, used: round(m.use[r]), ask, limit: n, holds: false, reason: null, note: after <= n ? 'within its guarantee' : 'beyond it, it borrows' });
      if (after <= n) continue;
      const over = after - n;
      if (!load.preemptible) {
        const reason = guaranteePendingReason('NO_BORROW', r, g.group);
        collect?.push({ layer: 'guarantee', name, via, resource: `${r} borrowing`, used: round(this.borrowed(m, r)), ask: round(over - this.borrowed(m, r)), limit: 0, holds: true, reason, note: 'a task that may not be preempted (--no-preempt) never borrows' });
        if (!hold(reason)) return first;
        continue;
      }
      const limit = g.borrowingLimit[r];
      const pastLimit = limit !== null && over > limit;
      collect?.push({
        layer: 'guarantee',
        name,
        via,
        resource: `${r} borrowed`,
        used: round(this.borrowed(m, r)),
        ask: round(over - this.borrowed(m, r)),
        limit: limit ?? Number.POSITIVE_INFINITY,
        holds: pastLimit,
        reason: pastLimit ? guaranteePendingReason('BORROW_LIMIT', r, g.group) : null,
        note: limit === null ? 'no borrowing limit' : `borrowing limit ${limit} ${WORDS[r]}`,
      });
      if (pastLimit && !hold(guaranteePendingReason('BORROW_LIMIT', r, g.group))) return first;
      // What the cohort borrows after this task, against what its members lend (a borrower lends nothing).
      const siblings = this.cohorts.get(m.cohort) ?? [];
      const borrowedOthers = siblings.filter((k) => k !== m).reduce((sum, k) => sum + this.borrowed(k, r), 0);
      const lendable = siblings.filter((k) => k !== m).reduce((sum, k) => sum + this.lendable(k, r), 0);
      const short = borrowedOthers + over > lendable;
      collect?.push({
        layer: 'guarantee',
        name,
        via,
        resource: `${r} idle among siblings`,
        used: round(borrowedOthers + this.borrowed(m, r)),
        ask: round(over - this.borrowed(m, r)),
        limit: round(lendable + this.borrowed(m, r)),
        holds: short,
        reason: short ? guaranteePendingReason('COHORT', r, g.group) : null,
        note: `its siblings lend what they neither use nor have queued (${round(lendable)} ${WORDS[r]} now)`,
      });
      if (short && !hold(guaranteePendingReason('COHORT', r, g.group))) return first;
    }
    return first;
  }

  /** A placement: the member's use grows, and the queued demand it came from shrinks. */
  charge(load: TaskLoad): void {
    const m = this.memberOf(load.groupId, load.pool);
    if (!m) return;
    for (const r of GUARANTEE_RESOURCES) {
      m.use[r] += askOf(load)[r];
      m.demand[r] = Math.max(0, m.demand[r] - askOf(load)[r]);
    }
  }

  /** Every member's figures, for `yard queue` and `yard quota show`. */
  status(): Array<{ member: CohortMember; inUse: Amounts; borrowed: Amounts; lent: Amounts }> {
    return [...this.members.values()].map((member) => ({
      member,
      inUse: { gpus: round(member.use.gpus), cpu: round(member.use.cpu) },
      borrowed: { gpus: round(this.borrowed(member, 'gpus')), cpu: round(this.borrowed(member, 'cpu')) },
      lent: { gpus: this.lent(member, 'gpus'), cpu: this.lent(member, 'cpu') },
    }));
  }

  /**
   * Reclaim: for each group whose queued tasks want room within its guarantee that the pool does not
   * have free (room being given back by preemptions under way counts as free), the borrowed tasks of
   * its siblings to preempt, the newest first, only while their group stays over its guarantee, and
   * only as many as the room wanted. Tasks that may not be preempted, and tasks already being stopped,
   * are never chosen. `capacity`: what the pool has (all its machines together).
   */
  reclaim(pool: string, capacity: Amounts, active: ActiveLoad[]): Reclaim[] {
    const inPool = active.filter((a) => a.pool === pool);
    const free = zero();
    for (const r of GUARANTEE_RESOURCES) free[r] = capacity[r] - inPool.filter((a) => !a.preempting).reduce((sum, a) => sum + askOf(a)[r], 0);
    const freed = new Map<CohortMember, Amounts>();
    const taken = new Set<number>();
    const plan: Reclaim[] = [];
    for (const m of this.members.values()) {
      if (m.guarantee.pool !== pool) continue;
      const need = zero();
      const shortfall = zero();
      for (const r of GUARANTEE_RESOURCES) {
        const n = m.guarantee.guaranteed[r];
        if (n === null) continue;
        need[r] = Math.min(m.demand[r], Math.max(0, n - (m.use[r] - m.leaving[r])));
        shortfall[r] = Math.max(0, need[r] - Math.max(0, free[r]));
      }
      if (GUARANTEE_RESOURCES.some((r) => shortfall[r] > 0)) {
        const siblings = (this.cohorts.get(m.cohort) ?? []).filter((k) => k !== m);
        const candidates = inPool
          .filter((a) => a.preemptible && !a.stopping && !taken.has(a.id))
          .map((a) => ({ a, k: this.memberOf(a.groupId, a.pool) }))
          .filter((c): c is { a: ActiveLoad; k: CohortMember } => c.k !== null && siblings.includes(c.k))
          .sort((x, y) => y.a.runStart - x.a.runStart || y.a.id - x.a.id);
        for (const { a, k } of candidates) {
          if (!GUARANTEE_RESOURCES.some((r) => shortfall[r] > 0)) break;
          const already = freed.get(k) ?? zero();
          // Only what its group borrows: it must stay over its guarantee in a resource this task frees.
          const helps = GUARANTEE_RESOURCES.some((r) => {
            const n = k.guarantee.guaranteed[r];
            return shortfall[r] > 0 && askOf(a)[r] > 0 && n !== null && k.use[r] - k.leaving[r] - already[r] > n;
          });
          if (!helps) continue;
          taken.add(a.id);
          for (const r of GUARANTEE_RESOURCES) {
            already[r] += askOf(a)[r];
            shortfall[r] = Math.max(0, shortfall[r] - askOf(a)[r]);
            free[r] += askOf(a)[r];
          }
          freed.set(k, already);
          const what = GUARANTEE_RESOURCES.filter((r) => need[r] > 0).map((r) => `${round(need[r])} ${WORDS[r]}`).join(' and ');
          plan.push({
            victim: a,
            reason: `PREEMPTED: group ${m.guarantee.group} needs ${what} of its guarantee in pool ${pool}, which group ${k.guarantee.group} borrowed`,
          });
        }
      }
      for (const r of GUARANTEE_RESOURCES) free[r] -= need[r];
    }
    return plan;
  }
}
