import type { Quota, QuotaAssignment, QuotaUsage, QuotaUsageLine } from '@trainyard/shared';
import type { AuditActor, AuditService } from '../audit/audit-service.js';
import { toIso, type Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import { DomainError } from '../errors.js';
import { ONE_MASTER, type Fence } from '../ha/leadership.js';
import type { GroupListener, GroupService } from '../groups/group-service.js';
import type { UserService } from '../users/user-service.js';
import type { UsageService } from '../usage/usage-service.js';
import { BudgetLedger, hasBudget, type BudgetAccount } from './budgets.js';
import { Cohorts, type QueuedDemand } from './cohorts.js';
import { addUse, ASK_OF, DispatchGate, over } from './dispatch-gate.js';
import { associationKey } from './fair-tree.js';
import type { GuaranteeService } from './guarantee-service.js';
import { quotaRepository, type ActiveLoad, type QuotaAssignmentRecord, type QuotaColumns, type QuotaPrincipal, type QuotaRecord, type TaskLoad } from './quota-repository.js';
import { QuotaRules } from './quota-rules.js';
import type { CreateQuota, UpdateQuota } from './quota-schema.js';

export interface FairShareOptions {
  halfLifeMs: number;
  /** What one GPU-second weighs against one CPU-second in the fair-share score. */
  gpuWeight: number;
}

/** Decayed usage as of `at`. */
interface Stored {
  cpu: number;
  gpu: number;
  at: number;
}

/** What one scheduling decision reads once: the rules, the gate over every layer, the cohorts. */
export interface DispatchSnapshot {
  rules: QuotaRules;
  gate: DispatchGate;
  cohorts: Cohorts;
}

// Group paths can change under a cached rule set (a rename notifies, but a second master would not): re-read at least this often.
const RULES_TTL_MS = 5_000;

/** The tightest max_runtime covering each task: its owner's quotas and those of its group and the groups above it. */
export class RuntimeRules {
  constructor(private readonly rules: QuotaRules) {}

  get none(): boolean {
    const has = (quotas: QuotaRecord[]) => quotas.some((q) => q.maxRuntimeMs !== null);
    return ![...this.rules.byUser.values()].some(has) && ![...this.rules.byGroup.values()].some((l) => has(l.quotas));
  }

  tightest(task: { ownerId: number; groupId: number | null; pool: string }): QuotaRecord | undefined {
    const candidates = [...(this.rules.byUser.get(task.ownerId) ?? []), ...this.rules.groupLayers(task.groupId).flatMap((l) => l.quotas)];
    return candidates
      .filter((q) => q.maxRuntimeMs !== null && (q.pool === null || q.pool === task.pool))
      .sort((a, b) => a.maxRuntimeMs! - b.maxRuntimeMs!)[0];
  }
}

/**
 * Quotas (issue 14, down the group tree in issue 26): named limits given to users (their own tasks)
 * and groups (the tasks charged to the group and to every group below it), with an optional cap on
 * each member inside a group quota (`per user`), an optional pool they count in, and budgets over
 * time (GPU- and CPU-hours over a rolling window or the calendar month, read from the usage ledger).
 * `max_submitted` and `deny_on_limit` refuse at creation (`checkSubmission`, inside the task
 * service's create transaction); the dispatch limits, budgets and guarantees make the scheduler wait
 * (`snapshot` gives the gate); `max_runtime` is enforced by `RuntimeLimits`. Also keeps fair-share
 * usage (decayed CPU- and GPU-seconds) per user and per user and group (Fair Tree).
 */
export class QuotaService implements GroupListener {
  private rules: { value: QuotaRules; at: number } | undefined;
  /** Counts changes, so that a read that overlapped one is not kept. */
  private generation = 0;
  private usage: Map<number, Stored> | undefined;
  private groupUsage: Map<string, Stored> | undefined;
  /** Users, and user:group associations, whose usage changed since the last flush. */
  private readonly dirty = new Set<number>();
  private readonly dirtyGroups = new Set<string>();
  readonly budgets: BudgetLedger;

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      audit: AuditService;
      users: UserService;
      groups: GroupService;
      /** The usage ledger: budgets count its runs. */
      ledger: Pick<UsageService, 'windowRuns'>;
      guarantees: GuaranteeService;
      fairShare: FairShareOptions;
      /** master.yaml's pools: a quota of one pool must name one. */
      pools: () => string[];
      /** A quota changed (raised, removed, unassigned...): waiting tasks may fit now. */
      onChanged?: () => void;
      /** Several masters: fair-share usage is the leader's to write. */
      fence?: Fence;
    },
  ) {
    this.budgets = new BudgetLedger({ clock: deps.clock, runs: (since, which) => deps.ledger.windowRuns(since, which) });
  }

  /**
   * Several masters: this master begins to lead, or stops. What it kept in memory is another
   * master's business meanwhile: the rules are read again, and the usage map is dropped (read
   * again from what the last leader flushed, at most a second old; a master that stops leading
   * forgets the charges it had not flushed yet, as a crash would).
   */
  leadershipChanged(): void {
    this.generation += 1;
    this.rules = undefined;
    this.usage = undefined;
    this.dirty.clear();
  }

  async list(): Promise<Quota[]> {
    const [quotas, assignments] = await Promise.all([quotaRepository.list(this.deps.db), quotaRepository.assignments(this.deps.db)]);
    return quotas.map((q) => present(q, assignments.filter((a) => a.quotaId === q.id)));
  }

  async get(name: string): Promise<Quota> {
    const quota = await this.require(this.deps.db, name);
    return present(quota, await quotaRepository.assignments(this.deps.db, quota.id));
  }

  async create(actor: AuditActor, request: CreateQuota): Promise<Quota> {
    const { db, clock, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      if (await quotaRepository.findByName(trx, request.name)) throw new DomainError('QUOTA_EXISTS', `quota '${request.name}' already exists`);
      await quotaRepository.insert(trx, request.name, this.columnsOf(request, undefined), request.denyOnLimit ?? false, clock.now());
      await audit.record(trx, actor, { action: 'quota.create', targetType: 'quota', target: request.name, details: limitsForAudit(request) });
    });
    this.changed();
    return this.get(request.name);
  }

  /** Changes limits; lowering one never stops running tasks: it only holds back new dispatches. */
  async update(actor: AuditActor, name: string, request: UpdateQuota): Promise<Quota> {
    const { db, clock, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      const quota = await this.require(trx, name);
      const changes: Partial<QuotaColumns> & { deny_on_limit?: number } = this.columnsOf(request, quota);
      if (request.denyOnLimit !== undefined) changes.deny_on_limit = request.denyOnLimit ? 1 : 0;
      await quotaRepository.update(trx, quota.id, changes, clock.now());
      await audit.record(trx, actor, { action: 'quota.update', targetType: 'quota', target: name, details: limitsForAudit(request) });
    });
    this.changed();
    return this.get(name);
  }

  async delete(actor: AuditActor, name: string): Promise<{ name: string; deleted: true }> {
    const { db, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      const quota = await this.require(trx, name);
      const holders = await quotaRepository.assignments(trx, quota.id);
      await quotaRepository.delete(trx, quota.id);
      await audit.record(trx, actor, {
        action: 'quota.delete',
        targetType: 'quota',
        target: name,
        details: { assignments: holders.map((h) => h.user ?? `group:${h.group}`) },
      });
    });
    this.changed();
    return { name, deleted: true };
  }

  async assign(actor: AuditActor, name: string, to: { user?: string | undefined; group?: string | undefined }): Promise<QuotaAssignment> {
    return this.changeAssignment(actor, name, to, 'assign');
  }

  async unassign(actor: AuditActor, name: string, from: { user?: string | undefined; group?: string | undefined }): Promise<QuotaAssignment> {
    return this.changeAssignment(actor, name, from, 'unassign');
  }

  private async changeAssignment(
    actor: AuditActor,
    name: string,
    who: { user?: string | undefined; group?: string | undefined },
    verb: 'assign' | 'unassign',
  ): Promise<QuotaAssignment> {
    const { db, clock, audit, users, groups } = this.deps;
    const result = await db.transaction().execute(async (trx) => {
      const quota = await this.require(trx, name);
      const principal = who.user !== undefined ? { userId: (await users.require(who.user, trx)).id } : { groupId: (await groups.require(who.group!, trx)).id };
      const holder = who.user !== undefined ? `user ${who.user}` : `group ${who.group}`;
      if (verb === 'assign' && !(await quotaRepository.assign(trx, quota.id, principal, clock.now()))) {
        throw new DomainError('ASSIGNMENT_EXISTS', `quota '${name}' is already assigned to ${holder}`);
      }
      if (verb === 'unassign' && !(await quotaRepository.unassign(trx, quota.id, principal))) {
        throw new DomainError('ASSIGNMENT_NOT_FOUND', `quota '${name}' is not assigned to ${holder}`);
      }
      await audit.record(trx, actor, {
        action: `quota.${verb}`,
        targetType: who.user !== undefined ? 'user' : 'group',
        target: who.user ?? who.group!,
        details: { quota: name },
      });
      return { quota: name, user: who.user ?? null, group: who.group ?? null };
    });
    this.changed();
    return result;
  }

  /**
   * The quotas covering a user (their own, and those of their groups and every group above them) or
   * a group (its own and those above it), with what is in use against each limit, each member's cap
   * (a user's own use inside it), the budgets over their windows, and the guarantees.
   */
  async usageOf(who: { userId: number; username: string } | { groupId: number; path: string }): Promise<QuotaUsage> {
    const { db, clock } = this.deps;
    const rules = await this.currentRules();
    const active = await quotaRepository.activeLoads(db);
    const gate = new DispatchGate(rules, active, await this.budgets.snapshot(rules), undefined);
    const budgets = await this.budgets.snapshot(rules);
    const quotas: QuotaUsage['quotas'] = [];
    const report = async (quota: QuotaRecord, via: string, principal: { ownerId: number } | { groupId: number }, account: BudgetAccount, member?: number) => {
      const use = 'ownerId' in principal ? gate.useOf({ ownerId: principal.ownerId }, quota.pool) : gate.useOf({ groupId: principal.groupId }, quota.pool);
      const lines: QuotaUsageLine[] = [];
      const line = (resource: QuotaUsageLine['resource'], used: number | null, limit: number | null, scope?: string) => {
        if (limit !== null) lines.push({ resource, used, limit, ...(scope ? { scope } : {}) });
      };
      const counted: QuotaPrincipal = 'ownerId' in principal ? { ownerId: principal.ownerId, pool: quota.pool } : { groupIds: rules.subtree(principal.groupId), pool: quota.pool };
      line('running', use.running, quota.maxRunning);
      line('submitted', quota.maxSubmitted === null ? null : await quotaRepository.unfinishedCount(db, counted, quota.maxSubmitted + 1), quota.maxSubmitted);
      line('cpu', use.cpu, quota.cpu);
      line('memory', use.memory, quota.memory);
      line('gpus', use.gpus, quota.gpus);
      line('max_runtime', null, quota.maxRuntimeMs);
      if (quota.perUser) {
        // A user sees their own share; a group, the cap alone.
        const mine =
          member === undefined ? null : 'groupId' in principal ? gate.useOf({ groupId: principal.groupId, ownerId: member }, quota.pool) : use;
        line('running', mine?.running ?? null, quota.perUser.maxRunning, 'per user');
        line('cpu', mine?.cpu ?? null, quota.perUser.cpu, 'per user');
        line('memory', mine?.memory ?? null, quota.perUser.memory, 'per user');
        line('gpus', mine?.gpus ?? null, quota.perUser.gpus, 'per user');
      }
      if (hasBudget(quota)) {
        const spent = budgets.use(quota, account);
        line('gpu_hours', spent.gpuHours, quota.gpuHours, quota.budgetWindow ?? undefined);
        line('cpu_hours', spent.cpuHours, quota.cpuHours, quota.budgetWindow ?? undefined);
      }
      quotas.push({ quota: quota.name, via: quota.pool ? `${via}, pool ${quota.pool}` : via, denyOnLimit: quota.denyOnLimit, lines });
    };
    const guarantees = await this.deps.guarantees.statuses(rules, active, []);
    if ('userId' in who) {
      for (const quota of rules.byUser.get(who.userId) ?? []) await report(quota, 'user', { ownerId: who.userId }, `u:${who.userId}`, who.userId);
      const seen = new Set<number>();
      const mine = await this.deps.groups.idsOf(who.userId);
      for (const groupId of mine) {
        for (const layer of rules.groupLayers(groupId)) {
          if (seen.has(layer.id)) continue;
          seen.add(layer.id);
          const via = layer.id === groupId ? `group ${layer.path}` : `group ${layer.path} (above ${rules.pathOf(groupId)})`;
          for (const quota of layer.quotas) await report(quota, via, { groupId: layer.id }, `g:${layer.id}`, who.userId);
        }
      }
      const related = new Set(mine.flatMap((id) => rules.ancestry(id)));
      const score = (await this.fairShareUsage()).get(who.userId);
      void clock;
      return {
        user: who.username,
        group: null,
        quotas,
        fairShare: score ?? { cpuSeconds: 0, gpuSeconds: 0, score: 0 },
        guarantees: guarantees.filter((g) => related.has(g.groupId)).map((g) => g.status),
      };
    }
    for (const layer of rules.groupLayers(who.groupId)) {
      const via = layer.id === who.groupId ? `group ${layer.path}` : `group ${layer.path} (above ${who.path})`;
      for (const quota of layer.quotas) await report(quota, via, { groupId: layer.id }, `g:${layer.id}`);
    }
    const related = new Set([...rules.ancestry(who.groupId), ...rules.subtree(who.groupId)]);
    return { user: null, group: who.path, quotas, fairShare: null, guarantees: guarantees.filter((g) => related.has(g.groupId)).map((g) => g.status) };
  }

  /**
   * Whether a submission by this owner in this group (and pool) meets a quota that refuses at
   * creation (max_submitted or deny_on_limit): if not, the task service stores it without the
   * transaction's locks and counts.
   */
  async checksSubmission(ownerId: number, groupId: number | null, pool?: string): Promise<boolean> {
    const rules = await this.currentRules();
    if (!rules.any) return false;
    return this.refusing(rules, ownerId, groupId, pool).length > 0;
  }

  /**
   * At creation, inside the task service's transaction: refuses a task over a `max_submitted`, or
   * over any limit of a `deny_on_limit` quota counting every unfinished task (queued ones would have
   * to wait). The owner's submissions, then each covering group's (in id order), are locked first
   * (`lockSubmissions`), so that no other submission is counted or stored between this count and the
   * insert, on any connection of any master.
   */
  async checkSubmission(trx: Executor, task: TaskLoad): Promise<void> {
    const rules = await this.currentRules(trx);
    if (!rules.any) return;
    const refusing = this.refusing(rules, task.ownerId, task.groupId, task.pool);
    if (refusing.length === 0) return;
    // Always the owner before the groups, and groups in id order: two submissions never wait for each other's lock.
    if (refusing.some((c) => c.groupId === undefined)) await quotaRepository.lockSubmissions(trx, { ownerId: task.ownerId });
    for (const groupId of [...new Set(refusing.filter((c) => c.groupId !== undefined).map((c) => c.groupId!))].sort((a, b) => a - b)) {
      await quotaRepository.lockSubmissions(trx, { groupId });
    }
    for (const { quota, whose, groupId } of refusing) {
      const principal: QuotaPrincipal = groupId === undefined ? { ownerId: task.ownerId, pool: quota.pool } : { groupIds: rules.subtree(groupId), pool: quota.pool };
      if (quota.maxSubmitted !== null) {
        const submitted = await quotaRepository.unfinishedCount(trx, principal, quota.maxSubmitted);
        if (submitted + 1 > quota.maxSubmitted) {
          throw new DomainError(
            'QUOTA_EXCEEDED',
            `refused by quota '${quota.name}' (${whose}): ${submitted} of max_submitted ${quota.maxSubmitted} tasks already queued or running; wait for some to end`,
            { details: { quota: quota.name, resource: 'submitted', used: submitted, limit: quota.maxSubmitted } },
          );
        }
      }
      if (!quota.denyOnLimit) continue;
      const loads = await quotaRepository.unfinishedLoads(trx, principal);
      const all = { running: 0, cpu: 0, memory: 0, gpus: 0 };
      const own = { running: 0, cpu: 0, memory: 0, gpus: 0 };
      for (const load of loads) {
        addUse(all, load);
        if (load.ownerId === task.ownerId) addUse(own, load);
      }
      const hit = over(quota, all, task) ?? (quota.perUser ? over(quota.perUser, own, task) : undefined);
      if (hit) {
        throw new DomainError(
          'QUOTA_EXCEEDED',
          `refused by quota '${quota.name}' (${whose}, deny_on_limit): ${hit.resource} ${hit.used} in use of ${hit.limit}, and this task asks for ${ASK_OF[hit.resource](task)} more`,
          { details: { quota: quota.name, resource: hit.resource, used: hit.used, limit: hit.limit } },
        );
      }
    }
  }

  /** The quotas covering a submission that refuse at creation, with whose they are (the owner's, or a group's: the group holding it). */
  private refusing(rules: QuotaRules, ownerId: number, groupId: number | null, pool?: string): Array<{ quota: QuotaRecord; whose: string; groupId?: number }> {
    const refuses = (q: QuotaRecord) => (q.maxSubmitted !== null || q.denyOnLimit) && (pool === undefined || q.pool === null || q.pool === pool);
    const found: Array<{ quota: QuotaRecord; whose: string; groupId?: number }> = [];
    for (const quota of rules.byUser.get(ownerId) ?? []) if (refuses(quota)) found.push({ quota, whose: 'yours' });
    for (const layer of rules.groupLayers(groupId)) {
      for (const quota of layer.quotas) if (refuses(quota)) found.push({ quota, whose: `group ${layer.path}'s`, groupId: layer.id });
    }
    return found;
  }

  /**
   * What one scheduling decision needs, read once inside the scheduler's section: the rules, the
   * gate over every layer (quotas down the tree, per-user caps, budgets, guarantees) from what is
   * held now (`active`), and the cohorts with what the queue wants (`demand`).
   */
  async snapshot(active: ActiveLoad[], demand: QueuedDemand[]): Promise<DispatchSnapshot> {
    const rules = await this.currentRules();
    const cohorts = new Cohorts(await this.deps.guarantees.records(), rules, active, demand);
    const budgets = await this.budgets.snapshot(rules);
    return { rules, gate: new DispatchGate(rules, active, budgets, cohorts), cohorts };
  }

  /** What every task holding a slot asks for (one query): for the snapshot and fair share in one scheduling decision. */
  activeLoads(): Promise<ActiveLoad[]> {
    return quotaRepository.activeLoads(this.deps.db);
  }

  /** Running tasks with when their current run began, for max_runtime. */
  running() {
    return quotaRepository.running(this.deps.db);
  }

  /**
   * A run ended: charge its owner's fair-share usage (and their association with its group) with
   * what the usage ledger wrote of it (its CPUs, GPUs, start and end), so that fair share and usage
   * reports agree on what a run held. Budgets read the ledger again.
   */
  async chargeRun(run: { ownerId: number; groupId: number | null; cpu: number; gpus: number; startedAt: number; endedAt: number }): Promise<void> {
    this.budgets.invalidate();
    await this.charge(run.ownerId, run.groupId, { cpu: run.cpu, gpus: run.gpus, seconds: (run.endedAt - run.startedAt) / 1000 });
  }

  /** Whether any quota exists (the scheduler skips the snapshot when none does). */
  async anyQuota(): Promise<boolean> {
    return (await this.currentRules()).any;
  }

  /** The tightest max_runtime covering each task, for RuntimeLimits and the engines' own time limits. */
  async runtimeLimits(): Promise<RuntimeRules> {
    return new RuntimeRules(await this.currentRules());
  }

  /**
   * Every user's fair-share usage now, running tasks included: the one figure `yard quota show`
   * (per user) and `yard queue` (per owner, whatever the policy and however many owners queue) show.
   */
  async fairShareUsage(): Promise<Map<number, { cpuSeconds: number; gpuSeconds: number; score: number }>> {
    return this.scores(await quotaRepository.activeLoads(this.deps.db));
  }

  /**
   * Fair-share scores by user: CPU-seconds plus gpuWeight times GPU-seconds, decayed with the
   * half-life (Slurm style), counting finished runs (charged at their end) and `running` ones so far.
   */
  async scores(running: ActiveLoad[]): Promise<Map<number, { cpuSeconds: number; gpuSeconds: number; score: number }>> {
    const now = this.deps.clock.now();
    const usage = await this.loadUsage();
    const result = new Map<number, { cpuSeconds: number; gpuSeconds: number; score: number }>();
    const entry = (userId: number) => {
      let e = result.get(userId);
      if (!e) {
        const stored = usage.get(userId);
        const factor = stored ? this.decay(now - stored.at) : 0;
        e = { cpuSeconds: (stored?.cpu ?? 0) * factor, gpuSeconds: (stored?.gpu ?? 0) * factor, score: 0 };
        result.set(userId, e);
      }
      return e;
    };
    for (const userId of usage.keys()) entry(userId);
    for (const run of running) {
      const seconds = Math.max(0, now - run.runStart) / 1000;
      const e = entry(run.ownerId);
      e.cpuSeconds += run.cpu * seconds;
      e.gpuSeconds += run.gpus * seconds;
    }
    for (const e of result.values()) e.score = e.cpuSeconds + this.deps.fairShare.gpuWeight * e.gpuSeconds;
    return result;
  }

  /** Decayed scores per association (`user:group`), running tasks included: what Fair Tree ranks. */
  async associationScores(running: ActiveLoad[]): Promise<Map<string, number>> {
    const now = this.deps.clock.now();
    const usage = await this.loadGroupUsage();
    const scores = new Map<string, number>();
    const weight = this.deps.fairShare.gpuWeight;
    for (const [key, stored] of usage) scores.set(key, (stored.cpu + weight * stored.gpu) * this.decay(now - stored.at));
    for (const run of running) {
      const key = associationKey(run.ownerId, run.groupId);
      const seconds = Math.max(0, now - run.runStart) / 1000;
      scores.set(key, (scores.get(key) ?? 0) + (run.cpu + weight * run.gpus) * seconds);
    }
    return scores;
  }

  /** A run ended: its CPU- and GPU-seconds join its owner's decayed usage, and that of the owner in its group. */
  async charge(ownerId: number, groupId: number | null, run: { cpu: number; gpus: number; seconds: number }): Promise<void> {
    if (run.seconds <= 0) return;
    const now = this.deps.clock.now();
    const add = (stored: Stored | undefined): Stored => {
      const factor = stored ? this.decay(now - stored.at) : 0;
      return { cpu: (stored?.cpu ?? 0) * factor + run.cpu * run.seconds, gpu: (stored?.gpu ?? 0) * factor + run.gpus * run.seconds, at: now };
    };
    const usage = await this.loadUsage();
    usage.set(ownerId, add(usage.get(ownerId)));
    this.dirty.add(ownerId);
    const groups = await this.loadGroupUsage();
    const key = associationKey(ownerId, groupId);
    groups.set(key, add(groups.get(key)));
    this.dirtyGroups.add(key);
  }

  /**
   * Writes the usage charged since the last flush (the master's monitor calls it every second, and
   * close once more): one write a second instead of one per ended run on the dispatch path. A crash
   * forgets at most that second's charges, which fair share can afford (it is not billing).
   */
  async flushUsage(): Promise<void> {
    if ((this.dirty.size === 0 && this.dirtyGroups.size === 0) || !this.usage) return;
    const users = [...this.dirty];
    const associations = [...this.dirtyGroups];
    this.dirty.clear();
    this.dirtyGroups.clear();
    const usage = this.usage;
    const groups = this.groupUsage;
    await this.deps.db.transaction().execute(async (trx) => {
      // A master that no longer leads must not write back what it held in memory over the leader's.
      await (this.deps.fence ?? ONE_MASTER).hold(trx);
      for (const userId of users) {
        const u = usage.get(userId)!;
        await quotaRepository.saveUsage(trx, userId, u.cpu, u.gpu, u.at);
      }
      for (const key of associations) {
        const u = groups?.get(key);
        if (!u) continue;
        const [userId, groupKey] = key.split(':').map(Number) as [number, number];
        await quotaRepository.saveGroupUsage(trx, userId, groupKey, u.cpu, u.gpu, u.at);
      }
    });
  }

  /** The group tree changed (GroupListener): the rules are read again. */
  treeChanged(): void {
    this.changed();
  }

  /** A guarantee changed: waiting tasks may fit now (or borrowed ones must give room back). */
  guaranteesChanged(): void {
    this.deps.onChanged?.();
  }

  private decay(elapsedMs: number): number {
    return Math.pow(2, -Math.max(0, elapsedMs) / this.deps.fairShare.halfLifeMs);
  }

  private async loadUsage(): Promise<Map<number, Stored>> {
    if (!this.usage) {
      const rows = await quotaRepository.usage(this.deps.db);
      this.usage ??= new Map(rows.map((r) => [r.userId, { cpu: r.cpuSeconds, gpu: r.gpuSeconds, at: r.updatedAt }]));
    }
    return this.usage;
  }

  private async loadGroupUsage(): Promise<Map<string, Stored>> {
    if (!this.groupUsage) {
      const rows = await quotaRepository.groupUsage(this.deps.db);
      this.groupUsage ??= new Map(rows.map((r) => [`${r.userId}:${r.groupKey}`, { cpu: r.cpuSeconds, gpu: r.gpuSeconds, at: r.updatedAt }]));
    }
    return this.groupUsage;
  }

  /** `db`: the transaction the caller is in (a query outside it would wait for it: one connection). */
  async currentRules(db: Executor = this.deps.db): Promise<QuotaRules> {
    const now = Date.now();
    if (this.rules && now - this.rules.at < RULES_TTL_MS) return this.rules.value;
    // A change made while this read was under way (on PostgreSQL, reads and writes interleave) may be
    // missing from it: it is used for this caller, and kept only if nothing changed meanwhile.
    const generation = this.generation;
    const [quotas, assignments, tree] = [await quotaRepository.list(db), await quotaRepository.assignments(db), await this.deps.groups.tree(db)];
    const rules = new QuotaRules(quotas, assignments, tree);
    if (generation === this.generation) this.rules = { value: rules, at: now };
    return rules;
  }

  private changed(): void {
    this.generation += 1;
    this.rules = undefined;
    this.budgets.invalidate();
    this.deps.onChanged?.();
  }

  private async require(db: Executor, name: string): Promise<QuotaRecord> {
    const quota = await quotaRepository.findByName(db, name);
    if (!quota) throw new DomainError('QUOTA_NOT_FOUND', `quota '${name}' does not exist (yard quota list shows them)`);
    return quota;
  }

  /**
   * The columns a request sets. A number for `perUser` caps the one dispatch limit the quota has
   * (after this change): with none or several, the request must name which (`{gpus: 2}`).
   */
  private columnsOf(request: UpdateQuota, before: QuotaRecord | undefined): Partial<QuotaColumns> {
    const columns: Partial<QuotaColumns> = {};
    if (request.maxRunning !== undefined) columns.max_running = request.maxRunning;
    if (request.maxSubmitted !== undefined) columns.max_submitted = request.maxSubmitted;
    if (request.cpu !== undefined) columns.cpu = request.cpu;
    if (request.memory !== undefined) columns.memory = request.memory;
    if (request.gpus !== undefined) columns.gpus = request.gpus;
    if (request.maxRuntime !== undefined) columns.max_runtime_ms = request.maxRuntime;
    if (request.pool !== undefined) {
      if (request.pool !== null && !this.deps.pools().includes(request.pool)) {
        throw new DomainError('POOL_NOT_FOUND', `pool '${request.pool}' does not exist (pools: ${this.deps.pools().join(', ')})`);
      }
      columns.pool = request.pool;
    }
    if (request.gpuHours !== undefined) columns.gpu_hours = request.gpuHours;
    if (request.cpuHours !== undefined) columns.cpu_hours = request.cpuHours;
    if (request.window !== undefined) {
      columns.budget_window_ms = request.window?.ms ?? null;
      columns.budget_calendar = request.window?.calendar ?? null;
    }
    const budget = (request.gpuHours ?? before?.gpuHours ?? null) !== null || (request.cpuHours ?? before?.cpuHours ?? null) !== null;
    // A budget with no window counts the last 30 days.
    if (budget && request.window === undefined && before?.budgetWindow == null) columns.budget_window_ms = 30 * 86_400_000;
    if (request.window && !budget) throw new DomainError('INVALID_INPUT', 'window is the window of a budget: give gpuHours or cpuHours with it');
    if (request.perUser !== undefined) {
      const per = request.perUser;
      if (per === null) Object.assign(columns, { per_user_running: null, per_user_cpu: null, per_user_memory: null, per_user_gpus: null });
      else if (typeof per === 'number') {
        const limit = (key: 'maxRunning' | 'cpu' | 'memory' | 'gpus', column: keyof QuotaColumns) =>
          (request[key] !== undefined ? request[key] : before?.[key] ?? null) !== null ? column : undefined;
        const set = [limit('maxRunning', 'per_user_running'), limit('gpus', 'per_user_gpus'), limit('cpu', 'per_user_cpu'), limit('memory', 'per_user_memory')].filter((c) => c !== undefined);
        if (set.length !== 1) {
          throw new DomainError(
            'INVALID_INPUT',
            set.length === 0
              ? 'perUser caps each member at part of the quota: the quota needs a limit on running tasks, GPUs, CPUs or memory first'
              : 'perUser as a number caps the one limit the quota sets, and this quota sets several: name them, such as {"gpus": 2} (yard: --per-user gpus=2)',
          );
        }
        Object.assign(columns, { per_user_running: null, per_user_cpu: null, per_user_memory: null, per_user_gpus: null, [set[0]!]: per });
      } else {
        if (per.maxRunning !== undefined) columns.per_user_running = per.maxRunning;
        if (per.cpu !== undefined) columns.per_user_cpu = per.cpu;
        if (per.memory !== undefined) columns.per_user_memory = per.memory;
        if (per.gpus !== undefined) columns.per_user_gpus = per.gpus;
      }
    }
    return columns;
  }
}

function limitsForAudit(request: UpdateQuota): Record<string, unknown> {
  return Object.fromEntries(Object.entries(request).filter(([key, value]) => key !== 'name' && value !== undefined));
}

function present(quota: QuotaRecord, assignments: QuotaAssignmentRecord[]): Quota {
  return {
    name: quota.name,
    maxRunning: quota.maxRunning,
    maxSubmitted: quota.maxSubmitted,
    cpu: quota.cpu,
    memory: quota.memory,
    gpus: quota.gpus,
    maxRuntimeMs: quota.maxRuntimeMs,
    perUser: quota.perUser,
    pool: quota.pool,
    gpuHours: quota.gpuHours,
    cpuHours: quota.cpuHours,
    budgetWindow: quota.budgetWindow,
    denyOnLimit: quota.denyOnLimit,
    assignments: assignments.map((a) => ({ quota: a.quota, user: a.user, group: a.group })),
    createdAt: toIso(quota.createdAt),
    updatedAt: toIso(quota.updatedAt),
  };
}
