import { quotaPendingReason, type DispatchResource, type Quota, type QuotaAssignment, type QuotaUsage, type QuotaUsageLine } from '@trainyard/shared';
import type { AuditActor, AuditService } from '../audit/audit-service.js';
import { toIso, type Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import type { TaskRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { ONE_MASTER, type Fence } from '../ha/leadership.js';
import type { GroupService } from '../groups/group-service.js';
import type { UserService } from '../users/user-service.js';
import { quotaRepository, type QuotaAssignmentRecord, type QuotaColumns, type QuotaRecord, type TaskLoad, type ActiveLoad } from './quota-repository.js';
import type { CreateQuota, UpdateQuota } from './quota-schema.js';

export interface FairShareOptions {
  halfLifeMs: number;
  /** What one GPU-second weighs against one CPU-second in the fair-share score. */
  gpuWeight: number;
}

interface Use {
  running: number;
  cpu: number;
  memory: number;
  gpus: number;
}

/** Quotas by whom they cover, cached between changes. */
interface Rules {
  any: boolean;
  byUser: Map<number, QuotaRecord[]>;
  byGroup: Map<number, { path: string; quotas: QuotaRecord[] }>;
}

// Group paths can change under a cached rule set (a rename): re-read at least this often.
const RULES_TTL_MS = 5_000;

const emptyUse = (): Use => ({ running: 0, cpu: 0, memory: 0, gpus: 0 });
const add = (use: Use, load: Pick<TaskLoad, 'cpu' | 'memory' | 'gpus'>) => {
  use.running += 1;
  use.cpu += load.cpu;
  use.memory += load.memory;
  use.gpus += load.gpus;
};

const LIMIT_OF: Record<DispatchResource, (q: QuotaRecord) => number | null> = {
  running: (q) => q.maxRunning,
  cpu: (q) => q.cpu,
  memory: (q) => q.memory,
  gpus: (q) => q.gpus,
};
const ASK_OF: Record<DispatchResource, (load: Pick<TaskLoad, 'cpu' | 'memory' | 'gpus'>) => number> = {
  running: () => 1,
  cpu: (l) => l.cpu,
  memory: (l) => l.memory,
  gpus: (l) => l.gpus,
};
const RESOURCES: DispatchResource[] = ['running', 'gpus', 'cpu', 'memory'];

/** The first dispatch limit of `quota` that `load` would push past, given what is in use. */
function over(quota: QuotaRecord, use: Use, load: Pick<TaskLoad, 'cpu' | 'memory' | 'gpus'>): { resource: DispatchResource; used: number; limit: number } | undefined {
  for (const resource of RESOURCES) {
    const limit = LIMIT_OF[resource](quota);
    if (limit !== null && use[resource] + ASK_OF[resource](load) > limit) return { resource, used: use[resource], limit };
  }
  return undefined;
}

/**
 * What the scheduler asks before it assigns: a snapshot of every covered principal's use, taken
 * inside the scheduler's one-at-a-time assignment section. Use grows only through assignments,
 * which all pass through that section, so between this snapshot and the assignment it can only
 * shrink (a run ended): the decision cannot overshoot a limit. `charge` counts an assignment made.
 */
export class DispatchGate {
  constructor(
    private readonly rules: Rules,
    private readonly byUser: Map<number, Use>,
    private readonly byGroup: Map<number, Use>,
  ) {}

  /** Why `task` must wait (a pending reason), or null when every quota covering it has room. */
  blocked(task: TaskLoad): string | null {
    if (!this.rules.any) return null;
    for (const quota of this.rules.byUser.get(task.ownerId) ?? []) {
      const hit = over(quota, this.byUser.get(task.ownerId) ?? emptyUse(), task);
      if (hit) return quotaPendingReason(hit.resource, null);
    }
    const group = task.groupId === null ? undefined : this.rules.byGroup.get(task.groupId);
    for (const quota of group?.quotas ?? []) {
      const hit = over(quota, this.byGroup.get(task.groupId!) ?? emptyUse(), task);
      if (hit) return quotaPendingReason(hit.resource, group!.path);
    }
    return null;
  }

  charge(task: TaskLoad): void {
    if (!this.rules.any) return;
    add(mapGet(this.byUser, task.ownerId), task);
    if (task.groupId !== null) add(mapGet(this.byGroup, task.groupId), task);
  }
}

const mapGet = <K>(map: Map<K, Use>, key: K): Use => {
  let use = map.get(key);
  if (!use) map.set(key, (use = emptyUse()));
  return use;
};

/**
 * Quotas (issue 14): named limits given to users (their own tasks) and groups (the aggregate of the
 * tasks created in the group). `max_submitted` and `deny_on_limit` refuse at creation
 * (`checkSubmission`, inside the task service's create transaction); the dispatch limits make the
 * scheduler wait (`gate`); `max_runtime` is enforced by `RuntimeLimits`. Also keeps each user's
 * fair-share usage (decayed CPU- and GPU-seconds).
 */
export class QuotaService {
  private rules: { value: Rules; at: number } | undefined;
  private usage: Map<number, { cpu: number; gpu: number; at: number }> | undefined;
  /** Users whose usage changed since the last flush. */
  private readonly dirty = new Set<number>();

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      audit: AuditService;
      users: UserService;
      groups: GroupService;
      fairShare: FairShareOptions;
      /** A quota changed (raised, removed, unassigned...): waiting tasks may fit now. */
      onChanged?: () => void;
      /** Several masters: fair-share usage is the leader's to write. */
      fence?: Fence;
    },
  ) {}

  /**
   * Several masters: this master begins to lead, or stops. What it kept in memory is another
   * master's business meanwhile: the rules are read again, and the usage map is dropped (read
   * again from what the last leader flushed, at most a second old; a master that stops leading
   * forgets the charges it had not flushed yet, as a crash would).
   */
  leadershipChanged(): void {
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
      await quotaRepository.insert(trx, request.name, columnsOf(request), request.denyOnLimit ?? false, clock.now());
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
      const changes: Partial<QuotaColumns> & { deny_on_limit?: number } = columnsOf(request);
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

  /** The quotas covering a user (their own and their groups') or a group, with what is in use against each limit. */
  async usageOf(who: { userId: number; username: string } | { groupId: number; path: string }): Promise<QuotaUsage> {
    const { db } = this.deps;
    const rules = await this.currentRules();
    const quotas: QuotaUsage['quotas'] = [];
    const report = async (quota: QuotaRecord, via: string, principal: { ownerId: number } | { groupId: number }) => {
      const loads = await quotaRepository.unfinishedLoads(db, principal);
      const active = loads.filter((l) => l.state !== 'QUEUED');
      const use = emptyUse();
      for (const load of active) add(use, load);
      const lines: QuotaUsageLine[] = [];
      const line = (resource: QuotaUsageLine['resource'], used: number | null, limit: number | null) => limit !== null && lines.push({ resource, used, limit });
      line('running', use.running, quota.maxRunning);
      line('submitted', loads.length, quota.maxSubmitted);
      line('cpu', use.cpu, quota.cpu);
      line('memory', use.memory, quota.memory);
      line('gpus', use.gpus, quota.gpus);
      line('max_runtime', null, quota.maxRuntimeMs);
      quotas.push({ quota: quota.name, via, denyOnLimit: quota.denyOnLimit, lines });
    };
    if ('userId' in who) {
      for (const quota of rules.byUser.get(who.userId) ?? []) await report(quota, 'user', { ownerId: who.userId });
      const groupIds = await this.deps.groups.idsOf(who.userId);
      for (const groupId of groupIds) {
        const group = rules.byGroup.get(groupId);
        for (const quota of group?.quotas ?? []) await report(quota, `group ${group!.path}`, { groupId });
      }
      const score = (await this.fairShareUsage()).get(who.userId);
      return { user: who.username, group: null, quotas, fairShare: score ?? { cpuSeconds: 0, gpuSeconds: 0, score: 0 } };
    }
    for (const quota of rules.byGroup.get(who.groupId)?.quotas ?? []) await report(quota, `group ${who.path}`, { groupId: who.groupId });
    return { user: null, group: who.path, quotas, fairShare: null };
  }

  /**
   * Whether a submission by this owner in this group meets a quota that refuses at creation
   * (max_submitted or deny_on_limit): if not, the task service stores it without the transaction.
   */
  async checksSubmission(ownerId: number, groupId: number | null): Promise<boolean> {
    const rules = await this.currentRules();
    if (!rules.any) return false;
    const refusing = (q: QuotaRecord) => q.maxSubmitted !== null || q.denyOnLimit;
    return (rules.byUser.get(ownerId) ?? []).some(refusing) || (groupId !== null && (rules.byGroup.get(groupId)?.quotas ?? []).some(refusing));
  }

  /**
   * At creation, inside the task service's transaction: refuses a task over a `max_submitted`, or
   * over any limit of a `deny_on_limit` quota counting every unfinished task (queued ones would have
   * to wait). The owner's submissions, then the group's, are locked first (`lockSubmissions`), so
   * that no other submission is counted or stored between this count and the insert, on any
   * connection of any master.
   */
  async checkSubmission(trx: Executor, task: TaskLoad): Promise<void> {
    const rules = await this.currentRules(trx);
    if (!rules.any) return;
    const covering: Array<{ quota: QuotaRecord; whose: string; principal: { ownerId: number } | { groupId: number } }> = [];
    for (const quota of rules.byUser.get(task.ownerId) ?? []) covering.push({ quota, whose: 'yours', principal: { ownerId: task.ownerId } });
    const group = task.groupId === null ? undefined : rules.byGroup.get(task.groupId);
    for (const quota of group?.quotas ?? []) covering.push({ quota, whose: `group ${group!.path}'s`, principal: { groupId: task.groupId! } });
    // Always the owner before the group: two submissions never wait for each other's lock.
    const refusing = covering.filter(({ quota }) => quota.maxSubmitted !== null || quota.denyOnLimit);
    if (refusing.some((c) => 'ownerId' in c.principal)) await quotaRepository.lockSubmissions(trx, { ownerId: task.ownerId });
    if (refusing.some((c) => 'groupId' in c.principal)) await quotaRepository.lockSubmissions(trx, { groupId: task.groupId! });
    for (const { quota, whose, principal } of covering) {
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
      const use = emptyUse();
      for (const load of await quotaRepository.unfinishedLoads(trx, principal)) add(use, load);
      const hit = over(quota, use, task);
      if (hit) {
        throw new DomainError(
          'QUOTA_EXCEEDED',
          `refused by quota '${quota.name}' (${whose}, deny_on_limit): ${hit.resource} ${hit.used} in use of ${hit.limit}, and this task asks for ${ASK_OF[hit.resource](task)} more`,
          { details: { quota: quota.name, resource: hit.resource, used: hit.used, limit: hit.limit } },
        );
      }
    }
  }

  /** A snapshot of every covered principal's use, for one scheduling decision (see DispatchGate). */
  async gate(loads?: ActiveLoad[]): Promise<DispatchGate> {
    const rules = await this.currentRules();
    const byUser = new Map<number, Use>();
    const byGroup = new Map<number, Use>();
    if (rules.any) {
      for (const load of loads ?? (await quotaRepository.activeLoads(this.deps.db))) {
        if (rules.byUser.has(load.ownerId)) add(mapGet(byUser, load.ownerId), load);
        if (load.groupId !== null && rules.byGroup.has(load.groupId)) add(mapGet(byGroup, load.groupId), load);
      }
    }
    return new DispatchGate(rules, byUser, byGroup);
  }

  /** What every task holding a slot asks for (one query): for `gate` and `scores` in one scheduling decision. */
  activeLoads(): Promise<ActiveLoad[]> {
    return quotaRepository.activeLoads(this.deps.db);
  }

  /** Running tasks with when their current run began, for max_runtime. */
  running() {
    return quotaRepository.running(this.deps.db);
  }

  /**
   * A run ended: charge its owner's fair-share usage with what the usage ledger wrote of it (its
   * CPUs, GPUs, start and end), so that fair share and usage reports agree on what a run held.
   */
  async chargeRun(run: { ownerId: number; cpu: number; gpus: number; startedAt: number; endedAt: number }): Promise<void> {
    await this.charge(run.ownerId, { cpu: run.cpu, gpus: run.gpus, seconds: (run.endedAt - run.startedAt) / 1000 });
  }

  /** Whether any quota exists (the scheduler skips the snapshot when none does). */
  async anyQuota(): Promise<boolean> {
    return (await this.currentRules()).any;
  }

  /** The smallest max_runtime covering each running task's owner or group, for RuntimeLimits. */
  async runtimeLimits(): Promise<{ byUser: Map<number, QuotaRecord>; byGroup: Map<number, QuotaRecord> }> {
    const rules = await this.currentRules();
    const tightest = (quotas: QuotaRecord[]) =>
      quotas.filter((q) => q.maxRuntimeMs !== null).sort((a, b) => a.maxRuntimeMs! - b.maxRuntimeMs!)[0];
    const byUser = new Map<number, QuotaRecord>();
    const byGroup = new Map<number, QuotaRecord>();
    for (const [id, quotas] of rules.byUser) {
      const q = tightest(quotas);
      if (q) byUser.set(id, q);
    }
    for (const [id, group] of rules.byGroup) {
      const q = tightest(group.quotas);
      if (q) byGroup.set(id, q);
    }
    return { byUser, byGroup };
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

  /** A run ended: its CPU- and GPU-seconds join its owner's decayed usage. */
  async charge(ownerId: number, run: { cpu: number; gpus: number; seconds: number }): Promise<void> {
    if (run.seconds <= 0) return;
    const now = this.deps.clock.now();
    const usage = await this.loadUsage();
    const stored = usage.get(ownerId);
    const factor = stored ? this.decay(now - stored.at) : 0;
    const next = {
      cpu: (stored?.cpu ?? 0) * factor + run.cpu * run.seconds,
      gpu: (stored?.gpu ?? 0) * factor + run.gpus * run.seconds,
      at: now,
    };
    usage.set(ownerId, next);
    this.dirty.add(ownerId);
  }

  /**
   * Writes the usage charged since the last flush (the master's monitor calls it every second, and
   * close once more): one write a second instead of one per ended run on the dispatch path. A crash
   * forgets at most that second's charges, which fair share can afford (it is not billing).
   */
  async flushUsage(): Promise<void> {
    if (this.dirty.size === 0 || !this.usage) return;
    const users = [...this.dirty];
    this.dirty.clear();
    const usage = this.usage;
    await this.deps.db.transaction().execute(async (trx) => {
      // A master that no longer leads must not write back what it held in memory over the leader's.
      await (this.deps.fence ?? ONE_MASTER).hold(trx);
      for (const userId of users) {
        const u = usage.get(userId)!;
        await quotaRepository.saveUsage(trx, userId, u.cpu, u.gpu, u.at);
      }
    });
  }

  private decay(elapsedMs: number): number {
    return Math.pow(2, -Math.max(0, elapsedMs) / this.deps.fairShare.halfLifeMs);
  }

  private async loadUsage(): Promise<Map<number, { cpu: number; gpu: number; at: number }>> {
    if (!this.usage) {
      const rows = await quotaRepository.usage(this.deps.db);
      this.usage ??= new Map(rows.map((r) => [r.userId, { cpu: r.cpuSeconds, gpu: r.gpuSeconds, at: r.updatedAt }]));
    }
    return this.usage;
  }

  /** `db`: the transaction the caller is in (a query outside it would wait for it: one connection). */
  private async currentRules(db: Executor = this.deps.db): Promise<Rules> {
    const now = Date.now();
    if (this.rules && now - this.rules.at < RULES_TTL_MS) return this.rules.value;
    const quotas = await quotaRepository.list(db);
    const assignments = await quotaRepository.assignments(db);
    const byId = new Map(quotas.map((q) => [q.id, q]));
    const rules: Rules = { any: false, byUser: new Map(), byGroup: new Map() };
    for (const a of assignments) {
      const quota = byId.get(a.quotaId)!;
      rules.any = true;
      if (a.userId !== null) rules.byUser.set(a.userId, [...(rules.byUser.get(a.userId) ?? []), quota]);
      if (a.groupId !== null) {
        const group = rules.byGroup.get(a.groupId) ?? { path: a.group!, quotas: [] };
        group.quotas.push(quota);
        rules.byGroup.set(a.groupId, group);
      }
    }
    this.rules = { value: rules, at: now };
    return rules;
  }

  private changed(): void {
    this.rules = undefined;
    this.deps.onChanged?.();
  }

  private async require(db: Executor, name: string): Promise<QuotaRecord> {
    const quota = await quotaRepository.findByName(db, name);
    if (!quota) throw new DomainError('QUOTA_NOT_FOUND', `quota '${name}' does not exist (yard quota list shows them)`);
    return quota;
  }
}

function columnsOf(request: UpdateQuota): Partial<QuotaColumns> {
  const columns: Partial<QuotaColumns> = {};
  if (request.maxRunning !== undefined) columns.max_running = request.maxRunning;
  if (request.maxSubmitted !== undefined) columns.max_submitted = request.maxSubmitted;
  if (request.cpu !== undefined) columns.cpu = request.cpu;
  if (request.memory !== undefined) columns.memory = request.memory;
  if (request.gpus !== undefined) columns.gpus = request.gpus;
  if (request.maxRuntime !== undefined) columns.max_runtime_ms = request.maxRuntime;
  return columns;
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
    denyOnLimit: quota.denyOnLimit,
    assignments: assignments.map((a) => ({ quota: a.quota, user: a.user, group: a.group })),
    createdAt: toIso(quota.createdAt),
    updatedAt: toIso(quota.updatedAt),
  };
}
