import { randomUUID } from 'node:crypto';
import {
  crashPoint,
  encodeCursor,
  EXPERIMENT_LOG_DIR,
  isTerminal,
  taskStatusKey,
  resolvePeriodBound,
  type BindMountRequest,
  type KnownTask,
  type Page,
  type RunSpec,
  type Task,
  type TaskKind,
  type TaskLogLine,
  type TaskLogPage,
  type TaskPlan,
  type TaskState,
  type TaskSummary,
  type TaskTimelineEntry,
  type RunOutcome,
} from '@trainyard/shared';
import type { Insertable, Updateable } from 'kysely';
import type { Admission, AdmissionRequest } from '../admission/admission.js';
import type { AuditActor, AuditService, SystemActor } from '../audit/audit-service.js';
import type { Actor } from '../authz/actor.js';
import { enforce } from '../authz/decision.js';
import { taskPolicies, type TaskTarget } from '../authz/tasks.js';
import { toIso, type Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import type { TaskRow, TasksTable } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { GroupService } from '../groups/group-service.js';
import { ONE_MASTER, type Fence } from '../ha/leadership.js';
import type { QuotaService } from '../quotas/quota-service.js';
import type { UserService } from '../users/user-service.js';
import { poolOfTask } from '../usage/pool-of.js';
import { resourcesOf, type EndedRun, type RunLedger } from '../usage/usage-service.js';
import type { Allocation } from '../usage/cluster-service.js';
import type { TaskEvents } from './task-events.js';
import { runSpecOf, toTask, toTaskSummary } from './task-mapper.js';
import { ACTIVE_STATES, taskRepository, type TaskListFilter, type TaskWithOwner } from './task-repository.js';
import { findLeasedTask, leaseInvalid } from './lease.js';
import { applyEvent, OUTCOME_EVENTS, type TaskEvent } from './task-state-machine.js';

/** A task going back to the queue (a restart, a preemption): nothing of its run on an agent stays. */
const OFF_ITS_AGENT = { agent_id: null, lease_id: null, lease_acked_at: null, assigned_at: null, log_offset: 0, placement: null } as const;

export class TaskService {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      events: TaskEvents;
      admission: Admission;
      users: UserService;
      groups: GroupService;
      audit: AuditService;
      /** The quotas domain: refuses a task over max_submitted (or a deny_on_limit quota) inside the create transaction. */
      quotas?: Pick<QuotaService, 'checksSubmission' | 'checkSubmission'>;
      /** The usage ledger: a run is opened and closed in it in the transaction that changes the task's state. */
      ledger?: RunLedger;
      /** Called when a run ended (from RUNNING to an end or back to the queue), with what the ledger wrote: fair-share usage. */
      onRunEnded?: (run: EndedRun) => void;
      /** Called after a task is queued (new, or again for a restart or a preemption), with its row: the scheduler's entry point. */
      onQueued?: (task: TaskRow) => void;
      /** Called after a task left the queue (placed, or killed while queued): the scheduler's queue forgets it. */
      onLeftQueue?: (taskId: number) => void;
      /** Called when a kill is asked of a task a pool holds (placed, not queued): its resource manager carries it out. */
      onKillRequested?: (task: TaskRow) => void;
      /** Called when a task leaves an agent (it ended or went back to the queue). */
      onCapacityFreed?: () => void;
      /**
       * Several masters (`ha`): every change of a task's state, lease, pending reason or placement is
       * a leader's write, checked against its fencing number first (one master: no check).
       */
      fence?: Fence;
      /** Called after every change of state, with the row as it was read, and after a creation (`create`, to QUEUED): metrics. */
      onTransition?: (task: TaskRow, event: TaskEvent | 'create', to: TaskState, at: number) => void;
    },
  ) {}

  private get fence(): Fence {
    return this.deps.fence ?? ONE_MASTER;
  }

  /** Admits the task (config, group, run identity, policy and floor), stores it with its run spec and queues it. */
  async create(actor: Actor, request: AdmissionRequest): Promise<Task> {
    const { db, clock } = this.deps;
    const { owner, admitted } = await this.admit(actor, request);
    const { config, group, pool, runSpec, scheduling } = admitted;
    const now = clock.now();
    const values: Insertable<TasksTable> = {
      priority: scheduling.priority,
      preemptible: scheduling.preemptible ? 1 : 0,
      kind: request.kind,
      owner_id: owner.id,
      state: 'QUEUED',
      name: config.name,
      config: JSON.stringify(config),
      run_spec: JSON.stringify(runSpec),
      group_id: group?.id ?? null,
      group_path: group?.path ?? null,
      pool,
      run_uid: runSpec.runAs.uid,
      run_user: runSpec.runAs.user,
      run_gid: runSpec.runAs.gid,
      run_group: runSpec.runAs.group,
      restarts: 0,
      created_at: now,
      updated_at: now,
      queued_at: now,
    };
    // Under a quota that refuses at creation, the count and the insert are one transaction that
    // holds the owner's (and group's) submissions locked (QuotaService.checkSubmission), so no other
    // submission is counted or stored between them. The task's first timeline entry goes in with it.
    const quotas = this.deps.quotas;
    const checked = await quotas?.checksSubmission(owner.id, group?.id ?? null, pool);
    const row = await db.transaction().execute(async (trx) => {
      if (checked) {
        const r = runSpec.resources;
        await quotas!.checkSubmission(trx, { ownerId: owner.id, groupId: group?.id ?? null, pool, cpu: r.cpu ?? 1, memory: r.memory ?? 0, gpus: r.gpus, preemptible: scheduling.preemptible });
      }
      const inserted = await taskRepository.insert(trx, values);
      await taskRepository.addTimeline(trx, { task_id: inserted.id, at: now, event: 'state', state: 'QUEUED', detail: null });
      return inserted;
    });
    crashPoint('master:after-submit');
    this.deps.onTransition?.(row, 'create', 'QUEUED', now);
    this.deps.onQueued?.(row);
    return toTask({ ...row, owner: owner.username });
  }

  /** `--dry-run`: everything `create` decides, or its refusal; nothing is stored. */
  async plan(actor: Actor, request: AdmissionRequest): Promise<TaskPlan> {
    const { owner, admitted } = await this.admit(actor, request);
    return {
      kind: request.kind,
      name: admitted.config.name,
      owner: owner.username,
      group: admitted.group?.path ?? null,
      pool: admitted.pool,
      config: admitted.config,
      runSpec: admitted.runSpec,
    };
  }

  private async admit(actor: Actor, request: AdmissionRequest) {
    const owner = await this.deps.users.requireById(actor.userId);
    if (!owner.active) {
      throw new DomainError('USER_INACTIVE', `user '${actor.username}' is deactivated and cannot start tasks`);
    }
    const admitted = await this.deps.admission.admit(actor, owner, request);
    const experiments = admitted.config.experiment_ids;
    if (!experiments) return { owner, admitted };
    // A TensorBoard reads its experiments' logs: admitted again with their log directories as read-only mounts.
    const logMounts = await this.experimentLogMounts(actor, experiments);
    if (logMounts.length === 0) return { owner, admitted };
    return { owner, admitted: await this.deps.admission.admit(actor, owner, { ...request, logMounts }) };
  }

  /** A page of summaries, newest first; `owner` (a name) and `since`/`until` (period bounds, by the master's clock) resolved here. */
  async list(
    request: Omit<TaskListFilter, 'limit' | 'createdSince' | 'createdUntil'> & { limit: number; owner?: string; since?: string; until?: string },
  ): Promise<Page<TaskSummary>> {
    const { owner, since, until, ...filter } = request;
    if (owner !== undefined) filter.ownerId = (await this.deps.users.require(owner)).id;
    const now = this.deps.clock.now();
    const rows = await taskRepository.list(this.deps.db, {
      ...filter,
      ...(since === undefined ? {} : { createdSince: resolvePeriodBound(since, now)! }),
      ...(until === undefined ? {} : { createdUntil: resolvePeriodBound(until, now)! }),
      limit: filter.limit + 1,
    });
    const items = rows.slice(0, filter.limit).map(toTaskSummary);
    const last = rows.length > filter.limit ? rows[filter.limit - 1] : undefined;
    return { items, next: last ? encodeCursor(last.id) : null };
  }

  /** Whether `pool`'s queue holds any task. */
  async hasQueued(pool: string): Promise<boolean> {
    return (await taskRepository.queued(this.deps.db, pool, 1)).length > 0;
  }

  /** What the store holds, for the metrics: tasks by state and kind, and when the longest wait began. */
  async storeCounts(): Promise<{ byStateAndKind: Array<{ state: TaskState; kind: TaskKind; count: number }>; oldestQueuedAt: number | null }> {
    const { db } = this.deps;
    return { byStateAndKind: await taskRepository.countByStateAndKind(db), oldestQueuedAt: await taskRepository.oldestQueuedAt(db) };
  }

  /**
   * The oldest queued tasks of each owner in each group (`perHead` each, `limit` in all), oldest
   * first, of one pool (or every pool): what the scheduler orders.
   */
  queuedHeads(pool: string | undefined, perHead: number, limit: number): Promise<TaskRow[]> {
    return taskRepository.queuedHeads(this.deps.db, pool, perHead, limit);
  }

  /** Every queued task (the scheduler's queue, loaded once and kept by onQueued / onLeftQueue). */
  queuedRows(): Promise<TaskRow[]> {
    return taskRepository.allQueued(this.deps.db);
  }

  /**
   * Records why queued tasks wait, many at once (the scheduler's pass over the whole queue): one
   * statement per reason, each change in the tasks' timelines, in one transaction. Only tasks still
   * queued change; waiting clients hear of it.
   */
  async setPendingReasons(changes: Array<{ id: number; reason: string | null }>): Promise<void> {
    if (changes.length === 0) return;
    const at = this.deps.clock.now();
    const byReason = new Map<string | null, number[]>();
    for (const { id, reason } of changes) byReason.set(reason, [...(byReason.get(reason) ?? []), id]);
    const changed = await this.deps.db.transaction().execute(async (trx) => {
      const done: number[] = [];
      for (const [reason, ids] of byReason) {
        for (let i = 0; i < ids.length; i += 500) {
          const updated = await taskRepository.setPendingReasonOf(trx, ids.slice(i, i + 500), reason);
          done.push(...updated);
          await taskRepository.addTimelines(trx, updated.map((id) => ({ task_id: id, at, event: 'waiting' as const, state: 'QUEUED' as const, detail: reason })));
        }
      }
      return done;
    });
    for (const id of changed) this.deps.events.changed(id);
  }

  /** Queued tasks of pools master.yaml no longer has wait with POOL_GONE (nothing would ever place them); how many. */
  async markPoolsGone(pools: string[]): Promise<number> {
    return this.deps.db.transaction().execute(async (trx) => {
      await this.fence.hold(trx);
      return taskRepository.markPoolsGone(trx, pools);
    });
  }

  /** Per pool: the tasks holding a slot (their run specs' resources) and the queue (length, oldest). */
  poolUse(): Promise<{ active: Array<{ pool: string; resources: RunSpec['resources'] }>; queues: Array<{ pool: string; length: number; oldest: number }> }> {
    return taskRepository.poolUse(this.deps.db);
  }

  /** Records why a queued task waits (and when, in its timeline); the caller writes only a reason that changed. Waiting clients hear of it. */
  async setPendingReason(taskId: number, reason: string | null): Promise<void> {
    const at = this.deps.clock.now();
    await this.deps.db.transaction().execute(async (trx) => {
      await this.fence.hold(trx);
      if (await taskRepository.setPendingReason(trx, taskId, reason)) {
        await taskRepository.addTimeline(trx, { task_id: taskId, at, event: 'waiting', state: 'QUEUED', detail: reason });
      }
    });
    this.deps.events.changed(taskId);
  }

  /**
   * `GET /tasks/:id?wait=S&seen=KEY`: the task once its status key (`taskStatusKey`: state,
   * pending reason, agent, kill) is no longer `seen`, it ended, or `waitSeconds` passed; without
   * `seen`, at once. Waiting clients (`-f`, `yard task wait`) say why a task waits as it changes.
   */
  async watch(task: TaskWithOwner, waitSeconds: number, seen: string | undefined): Promise<Task> {
    let current = toTask(task);
    const deadline = Date.now() + waitSeconds * 1000;
    while (seen !== undefined && taskStatusKey(current) === seen && !isTerminal(current.state) && Date.now() < deadline) {
      await this.deps.events.waitForChange(task.id, deadline - Date.now());
      current = toTask(await this.require(task.id));
    }
    return current;
  }

  /** What its page shows of a task's history; a task from before the timeline (0.3) gets what its row says. */
  async timeline(task: TaskWithOwner): Promise<TaskTimelineEntry[]> {
    const rows = await taskRepository.timeline(this.deps.db, task.id);
    if (rows.length > 0) return rows.map((r) => ({ at: toIso(r.at), event: r.event, state: r.state, detail: r.detail }));
    const entries: TaskTimelineEntry[] = [{ at: toIso(task.created_at), event: 'state', state: 'QUEUED', detail: null }];
    if (task.started_at !== null) entries.push({ at: toIso(task.started_at), event: 'state', state: 'RUNNING', detail: null });
    if (task.ended_at !== null) entries.push({ at: toIso(task.ended_at), event: 'state', state: task.state as TaskState, detail: task.message });
    return entries;
  }

  /** Tasks holding room on agents, with what they hold (the cluster overview). */
  async allocations(): Promise<Allocation[]> {
    const rows = await taskRepository.allocations(this.deps.db);
    return rows.map((row) => ({ agentId: row.agent_id, owner: row.owner, state: row.state as TaskState, pool: poolOfTask(row), ...resourcesOf(row) }));
  }

  queueFacts(): Promise<{ length: number; oldestQueuedAt: number | null }> {
    return taskRepository.queueFacts(this.deps.db);
  }

  async stateCounts(): Promise<Partial<Record<TaskState, number>>> {
    return Object.fromEntries((await taskRepository.stateCounts(this.deps.db)).map((r) => [r.state, r.count]));
  }

  /** Every task holding a slot (ASSIGNED, PULLING or RUNNING), oldest first (`yard why`'s estimate plays them forward). */
  activeRows(): Promise<TaskRow[]> {
    return taskRepository.active(this.deps.db);
  }

  /** The tasks an agent holds (ASSIGNED, PULLING or RUNNING), oldest first. */
  activeOnAgent(agentId: string): Promise<TaskRow[]> {
    return taskRepository.activeOnAgent(this.deps.db, agentId);
  }

  /** The tasks a pool holds (ASSIGNED, PULLING or RUNNING), oldest first: what its manager reconciles with its engine. */
  activeInPool(pool: string): Promise<TaskRow[]> {
    return taskRepository.activeInPool(this.deps.db, pool);
  }

  /** The pool and state of each of these tasks (those that exist): whose a job found in an engine is. */
  poolsOf(ids: readonly number[]): Promise<Map<number, { pool: string; state: TaskState }>> {
    return taskRepository.poolsOf(this.deps.db, ids);
  }

  /** Running tasks of these kinds, with when their run started (idle shutdown). */
  runningOfKinds(kinds: readonly TaskKind[]): Promise<Array<{ id: number; started_at: number | null }>> {
    return taskRepository.runningOfKinds(this.deps.db, kinds);
  }

  /** Ids of the unfinished tasks (queued, assigned, pulling, running) of `pool` whose run spec names `image` (normalised). */
  async unfinishedUsingImage(image: string, pool: string): Promise<number[]> {
    const rows = await taskRepository.unfinished(this.deps.db);
    return rows.filter((row) => row.pool === pool && runSpecOf(row).image === image).map((row) => row.id);
  }

  /** Ids of the tasks every agent holds, in one query (for the agent list). */
  activeByAgent(): Promise<Map<string, number[]>> {
    return taskRepository.activeByAgent(this.deps.db);
  }

  /** Assignments in `pool` never acknowledged since before `before`. */
  unacknowledgedSince(pool: string, before: number): Promise<TaskRow[]> {
    return taskRepository.unacknowledgedSince(this.deps.db, pool, before);
  }

  /** What the master believes runs on an agent, for it to reconcile against what it finds. */
  async knownOn(agentId: string): Promise<KnownTask[]> {
    const active = await this.activeOnAgent(agentId);
    return active.map((t) => ({
      taskId: t.id,
      leaseId: t.lease_id!,
      state: t.state as TaskState,
      acknowledged: t.lease_acked_at !== null,
      logOffset: t.log_offset,
      killRequested: t.kill_requested_at !== null,
    }));
  }

  /** The task an agent speaks of, if its lease is the current one (see `findLeasedTask`). */
  findLeased(agentId: string, taskId: number, leaseId: string, options: { acknowledged?: boolean } = {}): Promise<TaskWithOwner> {
    return findLeasedTask(this.deps.db, agentId, taskId, leaseId, options);
  }

  async require(id: number): Promise<TaskWithOwner> {
    const row = await taskRepository.findById(this.deps.db, id);
    if (!row) throw new DomainError('TASK_NOT_FOUND', `task ${id} does not exist`);
    return row;
  }

  /** A task with what its authorization checks need: the owner and the groups the owner is in. */
  async target(id: number): Promise<TaskTarget & { task: TaskWithOwner }> {
    const task = await this.require(id);
    return { id: task.id, ownerId: task.owner_id, owner: task.owner, ownerGroupIds: await this.deps.groups.idsOf(task.owner_id), task };
  }

  /** Permanently deletes an ended task and its logs (they go with it: task_logs cascades). */
  async delete(actor: Actor, task: TaskWithOwner): Promise<{ id: number; deleted: true }> {
    const { db, audit } = this.deps;
    if (!isTerminal(task.state)) {
      throw new DomainError('TASK_NOT_ENDED', `task ${task.id} is ${task.state}: kill it and let it end before deleting it`);
    }
    await db.transaction().execute(async (trx) => {
      if (!(await taskRepository.deleteEnded(trx, task.id))) {
        throw new DomainError('TASK_NOT_ENDED', `task ${task.id} changed while it was being deleted; try again`);
      }
      await audit.record(trx, actor, {
        action: 'task.delete',
        targetType: 'task',
        target: String(task.id),
        details: { kind: task.kind, name: task.name, owner: task.owner, state: task.state },
      });
    });
    this.deps.events.changed(task.id);
    return { id: task.id, deleted: true };
  }

  async rename(task: TaskWithOwner, changes: { name?: string; description?: string }): Promise<Task> {
    const config = JSON.parse(task.config) as Record<string, unknown>;
    if (changes.description !== undefined) config.description = changes.description;
    if (changes.name !== undefined) config.name = changes.name;
    await this.deps.db
      .updateTable('tasks')
      .set({ name: changes.name ?? task.name, config: JSON.stringify(config), updated_at: this.deps.clock.now() })
      .where('id', '=', task.id)
      .execute();
    return toTask(await this.require(task.id));
  }

  /**
   * A queued task ends as KILLED at once; one on an agent is marked (who asked, and the master's
   * reason), and the agent stops it (SIGTERM, then SIGKILL) and reports KILLED: the state stays
   * what it is until then, lists show it as KILLING. Killing an ended task is a conflict; asking
   * again while a kill is under way changes nothing. Each kill that took effect is in the audit log
   * (`task.kill`), with the user who asked or the part of the master that did.
   */
  async kill(task: TaskWithOwner, by: AuditActor | SystemActor, options: { reason?: string } = {}): Promise<Task> {
    // The task may move on between the read and the write (its agent acknowledges, starts or ends
    // it): the write is guarded by the state read, and a kill that lost that race is tried again
    // on the task as it is now, never dropped.
    for (let attempt = 1; ; attempt++) {
      const killed = await this.killOnce(task, by, options, attempt === 1);
      if (killed) return killed;
      task = await this.require(task.id);
      if (attempt >= 5) throw new DomainError('CONFLICT', `task ${task.id} kept changing while it was being killed; try again`);
    }
  }

  /** One try of `kill` on the task as read; undefined when it changed meanwhile. */
  private async killOnce(task: TaskWithOwner, by: AuditActor | SystemActor, options: { reason?: string }, first: boolean): Promise<Task | undefined> {
    const state = task.state as TaskState;
    if (isTerminal(state)) applyEvent(task.id, state, 'kill');
    const neverStarted = state === 'QUEUED' || (state === 'ASSIGNED' && task.lease_acked_at === null);
    // A preemption under way is a kill that queues the task again: a real kill asked meanwhile takes it over.
    const preempting = task.preempt_requested_at !== null;
    if (!neverStarted && task.kill_requested_at !== null && !preempting) return toTask(await this.require(task.id));
    const now = this.deps.clock.now();
    const user = 'system' in by ? null : by.username;
    // A reason (RUNTIME_LIMIT: ..., idle for ...) becomes the task's message when it ends KILLED.
    const request = {
      kill_requested_at: now,
      kill_requested_by: user,
      kill_reason: options.reason ?? null,
      preempt_requested_at: null,
    };
    const audit = (trx: Executor) =>
      this.deps.audit.record(trx, by, {
        action: 'task.kill',
        targetType: 'task',
        target: String(task.id),
        details: { kind: task.kind, name: task.name, owner: task.owner, state, ...(options.reason ? { reason: options.reason } : {}) },
      });
    // Before the change: a follower that sees the task end has the line already.
    if (first) await this.appendLogs(task.id, [{ stream: 'system', line: `[trainyard] ${options.reason ? `stopping: ${options.reason}` : `kill requested by ${user}`}` }]);
    if (neverStarted) {
      // Nothing runs yet: end it here. An agent holding the lease finds it invalid when it acknowledges.
      try {
        await this.transition(task, 'kill', { ...request, lease_id: null, ...(options.reason ? { message: options.reason } : {}) }, audit);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'CONFLICT') return undefined;
        throw error;
      }
      // What its manager holds for the placement goes too (a job pending in Slurm's queue).
      if (state === 'ASSIGNED') this.deps.onKillRequested?.(task);
    } else {
      const requested = await this.deps.db.transaction().execute(async (trx) => {
        await this.fence.hold(trx);
        if (!(await taskRepository.requestKill(trx, task.id, state, { ...request, updated_at: now }, { preempting }))) return false;
        await taskRepository.addTimeline(trx, { task_id: task.id, at: now, event: 'kill_requested', state, detail: options.reason ?? null });
        await audit(trx);
        return true;
      });
      if (!requested) {
        // Ended meanwhile, or another kill got there first: nothing more to do. Else it moved on: again.
        const now = await this.require(task.id);
        if (isTerminal(now.state as TaskState) || (now.kill_requested_at !== null && now.preempt_requested_at === null)) return toTask(now);
        return undefined;
      }
      this.deps.events.changed(task.id);
      this.deps.onKillRequested?.(task);
    }
    return toTask(await this.require(task.id));
  }

  /**
   * The one writer of task states: applies `event` to the task as read (the state machine says
   * where it leads), guarded against racing writers by its state and lease. Ending states stamp
   * ended_at, RUNNING stamps started_at, the queue stamps queued_at; the same transaction adds the
   * timeline entry and opens (RUNNING) or closes (leaving RUNNING) the run in the usage ledger, so a
   * state and its ledger row are never apart. The scheduler hears of queued tasks and freed capacity.
   * `within` writes what must go with the change (an audit entry) in its transaction.
   */
  async transition<T extends TaskRow>(task: T, event: TaskEvent, extra: Updateable<TasksTable> = {}, within?: (trx: Executor) => Promise<void>): Promise<T> {
    const from = task.state as TaskState;
    const to = applyEvent(task.id, from, event);
    const now = this.deps.clock.now();
    const changes: Updateable<TasksTable> = { ...extra, state: to, updated_at: now };
    if (to === 'RUNNING' && task.started_at === null) changes.started_at = now;
    if (isTerminal(to)) changes.ended_at = now;
    if (to === 'QUEUED') changes.queued_at = now;
    // A pending reason says why a queued (or placed, not started) task waits: it goes when the task moves on.
    if (from === 'QUEUED' || from === 'ASSIGNED') changes.pending_reason = null;
    const ledger = this.deps.ledger;
    const ended = await this.deps.db.transaction().execute(async (trx) => {
      // A leader's write: a master that no longer leads (paused, cut off) changes nothing.
      await this.fence.hold(trx);
      if (!(await taskRepository.update(trx, task.id, { state: from, leaseId: task.lease_id }, changes))) {
        throw new DomainError('CONFLICT', `task ${task.id} changed while it was being updated; try again`);
      }
      await within?.(trx);
      const detail = (changes.message as string | null | undefined) ?? (to === 'ASSIGNED' ? (changes.agent_id as string | undefined) ?? null : null);
      await taskRepository.addTimeline(trx, { task_id: task.id, at: now, event: 'state', state: to, detail });
      if (!ledger) return undefined;
      if (to === 'RUNNING' && from !== 'RUNNING') await ledger.runStarted(trx, { ...task, ...changes } as TaskRow, now);
      if (from === 'RUNNING' && to !== 'RUNNING') {
        const exitCode = (changes.exit_code as number | null | undefined) ?? null;
        const outcome: RunOutcome = to === 'QUEUED' ? (event === 'preempt' ? 'PREEMPTED' : 'REQUEUED') : (to as RunOutcome);
        return ledger.runEnded(trx, task, now, outcome, exitCode);
      }
      return undefined;
    });
    this.deps.events.changed(task.id);
    this.deps.onTransition?.(task, event, to, now);
    if (ended) this.deps.onRunEnded?.(ended);
    if (from === 'QUEUED') this.deps.onLeftQueue?.(task.id);
    if (from !== 'QUEUED' && (to === 'QUEUED' || isTerminal(to))) this.deps.onCapacityFreed?.();
    const after = { ...task, ...changes } as T;
    if (to === 'QUEUED') this.deps.onQueued?.(after);
    return after;
  }

  /**
   * Preemption (issue 26): stops a placed or running task to give borrowed capacity back, and
   * queues it again (not KILLED, and at no restart's cost). A run that never started is queued
   * again at once; a running one is stopped through the kill path (its agent gets the kill: SIGTERM,
   * then SIGKILL after kill_grace) with `kill_requested_at` and `preempt_requested_at` set in one
   * transaction with the audit entry, and `finishRun` queues it again once the agent reports it
   * stopped. Both are in the row, so a master restarted in between finishes the same way. False
   * when the task moved on, or a kill (or another preemption) is already under way.
   */
  async preempt(task: TaskRow, reason: string): Promise<boolean> {
    const state = task.state as TaskState;
    if (!['ASSIGNED', 'PULLING', 'RUNNING'].includes(state) || task.kill_requested_at !== null) return false;
    const by = { system: 'scheduler' } as const;
    const audit = (trx: Executor) =>
      this.deps.audit.record(trx, by, { action: 'task.preempt', targetType: 'task', target: String(task.id), details: { kind: task.kind, name: task.name, state, reason } });
    if (state === 'ASSIGNED' && task.lease_acked_at === null) {
      // Nothing started: back to the queue now; an agent holding the lease finds it invalid.
      const requeued = await this.requeuePreempted({ ...task, preempt_requested_at: this.deps.clock.now(), kill_reason: reason }, 'it had not started', audit);
      return requeued;
    }
    const now = this.deps.clock.now();
    const requested = await this.deps.db.transaction().execute(async (trx) => {
      await this.fence.hold(trx);
      const changes = { kill_requested_at: now, kill_requested_by: null, kill_reason: reason, preempt_requested_at: now, updated_at: now };
      if (!(await taskRepository.requestKill(trx, task.id, state, changes, { preempting: false }))) return false;
      await taskRepository.addTimeline(trx, { task_id: task.id, at: now, event: 'kill_requested', state, detail: reason });
      await audit(trx);
      return true;
    });
    if (!requested) return false;
    crashPoint('master:after-preempt-request');
    await this.appendLogs(task.id, [{ stream: 'system', line: `[trainyard] preempted: ${reason}; stopping it, then it is queued again` }]);
    this.deps.events.changed(task.id);
    this.deps.onKillRequested?.(task);
    return true;
  }

  /** The end of a preemption: the run stopped (or never started), so the task goes back to the queue, saying why. */
  private async requeuePreempted(task: TaskRow, how: string, within?: (trx: Executor) => Promise<void>): Promise<boolean> {
    const reason = task.kill_reason ?? 'PREEMPTED';
    try {
      await this.transition(
        task,
        'preempt',
        {
          ...OFF_ITS_AGENT,
          kill_requested_at: null,
          kill_requested_by: null,
          kill_reason: null,
          preempt_requested_at: null,
          preemptions: task.preemptions + 1,
          exit_code: null,
          message: reason,
        },
        within,
      );
    } catch (error) {
      if (error instanceof DomainError && error.code === 'CONFLICT') return false;
      throw error;
    }
    await this.appendLogs(task.id, [{ stream: 'system', line: `[trainyard] run ${how} (${reason}); queued again` }]);
    return true;
  }

  /**
   * For resource managers: what the current run was placed as (a Slurm job id), or why its engine holds it
   * before it starts (`SLURM:Priority`). Written only while the task is still under `leaseId` (and, for a
   * reason, not started); false when it moved on.
   */
  async notePlacement(taskId: number, leaseId: string, note: { placement?: string; pendingReason?: string | null }): Promise<boolean> {
    const changes: Updateable<TasksTable> = {};
    if (note.placement !== undefined) changes.placement = note.placement;
    if (note.pendingReason !== undefined) changes.pending_reason = note.pendingReason;
    const states = note.pendingReason === undefined ? ACTIVE_STATES : (['ASSIGNED'] as const);
    const at = this.deps.clock.now();
    const noted = await this.deps.db.transaction().execute(async (trx) => {
      await this.fence.hold(trx);
      if (!(await taskRepository.notePlacement(trx, taskId, leaseId, states, changes))) return false;
      // The task's timeline says why its engine held it, as it says why the queue did.
      if (note.pendingReason) await taskRepository.addTimeline(trx, { task_id: taskId, at, event: 'waiting', state: 'ASSIGNED', detail: note.pendingReason });
      return true;
    });
    if (noted) this.deps.events.changed(taskId);
    return noted;
  }

  /** Leases a queued task to an agent; undefined when another writer took it first. */
  async assign(task: TaskRow, agentId: string): Promise<TaskRow | undefined> {
    const now = this.deps.clock.now();
    const leaseId = randomUUID();
    let assigned: TaskRow;
    try {
      assigned = await this.transition(
        task,
        'assign',
        { agent_id: agentId, lease_id: leaseId, assigned_at: now, lease_acked_at: null, log_offset: 0, placement: null },
        // Which leader's term granted the lease (several masters): the record that no two masters assigned it.
        (trx) => this.fence.recordGrant(trx, { taskId: task.id, leaseId, agentId, at: now }),
      );
    } catch (error) {
      if (error instanceof DomainError && error.code === 'CONFLICT') return undefined;
      throw error;
    }
    await this.appendLogs(task.id, [{ stream: 'system', line: `[trainyard] assigned to agent ${agentId}` }]);
    return assigned;
  }

  /** The agent took the lease: from now on it may run the task, and only it. Idempotent. */
  async acknowledge(task: TaskRow): Promise<void> {
    if (task.lease_acked_at !== null) return;
    const now = this.deps.clock.now();
    const ok = await this.deps.db.transaction().execute(async (trx) => {
      await this.fence.hold(trx);
      return taskRepository.update(trx, task.id, { state: 'ASSIGNED', leaseId: task.lease_id }, { lease_acked_at: now, updated_at: now });
    });
    if (!ok) throw leaseInvalid(task.id);
    this.deps.events.changed(task.id);
  }

  /**
   * Gives back a lease under which nothing started (it expired, the agent was lost before it
   * acknowledged, or the agent says it never started it): the task is queued again without
   * costing a restart, or ends KILLED if someone asked to kill it meanwhile. False when the task
   * had already moved on.
   */
  async release(task: TaskRow, reason: string): Promise<boolean> {
    applyEvent(task.id, task.state as TaskState, 'release');
    // Being preempted, and nothing started: queued again as the preemption meant.
    if (task.preempt_requested_at !== null) return this.requeuePreempted(task, `${reason}; it never started`);
    try {
      if (task.kill_requested_at !== null) {
        await this.transition(task, 'kill', { message: `killed before it started (${reason})` });
      } else {
        await this.transition(task, 'release', { agent_id: null, lease_id: null, lease_acked_at: null, assigned_at: null, log_offset: 0, placement: null });
      }
    } catch (error) {
      if (error instanceof DomainError && error.code === 'CONFLICT') return false;
      throw error;
    }
    await this.appendLogs(task.id, [{ stream: 'system', line: `[trainyard] ${reason}; ${task.kill_requested_at === null ? 'queued again' : 'killed'}` }]);
    return true;
  }

  /**
   * Ends the current run of a task. A failed or lost run with restarts left goes back to the
   * queue (restarts + 1) instead, unless someone asked to kill it.
   */
  async finishRun<T extends TaskRow>(
    task: T,
    outcome: 'COMPLETED' | 'FAILED' | 'KILLED' | 'LOST',
    details: { exitCode?: number; message?: string } = {},
  ): Promise<T> {
    const id = task.id;
    // Stopped for a preemption (or it ended some other way while being stopped): queued again, unless it completed.
    if (task.preempt_requested_at !== null && outcome !== 'COMPLETED') {
      const how = details.message ?? (outcome === 'KILLED' ? 'stopped' : outcome.toLowerCase());
      if (await this.requeuePreempted(task, how)) return (await this.require(id)) as unknown as T;
    }
    const config = JSON.parse(task.config) as { max_restarts?: number };
    const restartsLeft = (config.max_restarts ?? 0) - task.restarts;
    const canRestart = (outcome === 'FAILED' || outcome === 'LOST') && restartsLeft > 0 && task.kill_requested_at === null;
    if (canRestart) {
      const why = details.message ?? (details.exitCode === undefined ? outcome.toLowerCase() : `exit code ${details.exitCode}`);
      await this.appendLogs(id, [{ stream: 'system', line: `[trainyard] run ended (${why}); restarting (${task.restarts + 1} of ${config.max_restarts})` }]);
      return this.transition(task, 'restart', {
        restarts: task.restarts + 1,
        ...OFF_ITS_AGENT,
        exit_code: details.exitCode ?? null,
        message: details.message ?? null,
      });
    }
    if (details.message) await this.appendLogs(id, [{ stream: 'system', line: `[trainyard] ${details.message}` }]);
    // A kill with a reason (RUNTIME_LIMIT) ends with it as the message; the agent's KILLED report has none.
    const message = details.message ?? (outcome === 'KILLED' ? task.kill_reason : null);
    return this.transition(task, OUTCOME_EVENTS[outcome], { exit_code: details.exitCode ?? null, message });
  }

  /** Appends lines in order (the master's own: `[trainyard] ...`), under the task's row lock. */
  async appendLogs(taskId: number, lines: Array<{ stream: TaskLogLine['stream']; line: string }>): Promise<number> {
    const now = this.deps.clock.now();
    const seq = await this.deps.db.transaction().execute(async (trx) => {
      await taskRepository.lockForLogs(trx, taskId);
      return taskRepository.appendLogs(trx, taskId, lines.map((l) => ({ ...l, created_at: now })));
    });
    if (lines.length > 0) this.deps.events.changed(taskId);
    return seq;
  }

  /** A query's moment (`since`): a period bound (10m, 2h, 1d back on this clock, or a date or time), in ms; INVALID_INPUT naming `field` otherwise. */
  sinceAt(value: string, field: string): number {
    const at = resolvePeriodBound(value.trim(), this.deps.clock.now());
    if (at === undefined) throw new DomainError('INVALID_INPUT', `${field}: '${value}' is not a duration back from now such as 10m, 2h or 1d, or a time such as 2026-12-01T09:00:00Z`);
    return at;
  }

  /**
   * An agent's batch of a run's lines, `offset` lines into the run. Lines the master has already
   * (a batch resent after a lost answer) are skipped, and how many arrived is recorded, in one
   * transaction holding the task's row: two copies of a batch arriving at once are stored once.
   * Returns how many lines of the run the master has; fewer than `offset` means a gap (the agent
   * lost track), and nothing is stored.
   */
  async appendRunLogs(taskId: number, leaseId: string, offset: number, lines: Array<{ stream: TaskLogLine['stream']; line: string }>): Promise<number> {
    const now = this.deps.clock.now();
    const { received, appended } = await this.deps.db.transaction().execute(async (trx) => {
      const task = await taskRepository.lockForLogs(trx, taskId);
      if (!task || task.lease_id !== leaseId) throw leaseInvalid(taskId);
      const skip = task.log_offset - offset;
      if (skip < 0) return { received: task.log_offset, appended: 0 };
      const fresh = lines.slice(skip);
      if (fresh.length === 0) return { received: task.log_offset, appended: 0 };
      await taskRepository.appendLogs(trx, taskId, fresh.map((l) => ({ ...l, created_at: now })));
      await taskRepository.setLogOffset(trx, taskId, task.log_offset + fresh.length);
      return { received: task.log_offset + fresh.length, appended: fresh.length };
    });
    if (appended > 0) this.deps.events.changed(taskId);
    return received;
  }

  /**
   * Lines after `after`, in order, with the task's status; with `waitSeconds`, holds until there
   * is something new, the task ends or (given `seen`) its status key is no longer `seen`. `sinceAt`
   * (ms) starts at the first line written then or later, `tail` at the last that many lines: the
   * lines before are never read.
   */
  async logs(
    taskId: number,
    query: { after: number; limit: number; waitSeconds: number; seen?: string | undefined; tail?: number | undefined; sinceAt?: number | undefined },
  ): Promise<TaskLogPage> {
    const { limit, waitSeconds, seen } = query;
    let after = query.after;
    if (query.tail !== undefined || query.sinceAt !== undefined) {
      const last = await taskRepository.lastLogSeq(this.deps.db, taskId);
      if (query.sinceAt !== undefined) after = Math.max(after, (await taskRepository.firstLogSeqAtOrAfter(this.deps.db, taskId, query.sinceAt, last)) - 1);
      if (query.tail !== undefined) after = Math.max(after, last - query.tail);
    }
    const read = async (): Promise<TaskLogPage> => {
      // State first: lines written before the task ended are then sure to be in the read after it.
      const task = await this.require(taskId);
      const rows = await taskRepository.readLogs(this.deps.db, taskId, after, limit);
      const items: TaskLogLine[] = rows.map((r) => ({
        seq: r.seq,
        stream: r.stream as TaskLogLine['stream'],
        line: r.line,
        time: toIso(r.created_at),
      }));
      const { state, pendingReason, agent, killRequest } = toTaskSummary(task);
      const next = items.at(-1)?.seq ?? after;
      // Done only once the task ended and a read after that found nothing more.
      return { items, next, state, pendingReason, agent, killRequest, done: isTerminal(state) && rows.length === 0 };
    };
    let page = await read();
    const deadline = Date.now() + waitSeconds * 1000;
    const unchanged = () => seen === undefined || taskStatusKey(page) === seen;
    while (page.items.length === 0 && !page.done && unchanged() && Date.now() < deadline) {
      await this.deps.events.waitForChange(taskId, deadline - Date.now());
      page = await read();
    }
    return page;
  }

  /** A tensorboard reads its experiments: the creator must be allowed to read each one. */
  /**
   * The experiments a TensorBoard names, each one the caller may read, as read-only mounts of the host
   * directory each experiment had at EXPERIMENT_LOG_DIR (/runs), seen at /runs/<id>. An experiment
   * with no such mount contributes nothing (its describe shows where its logs went, if anywhere).
   */
  private async experimentLogMounts(actor: Actor, ids: number[]): Promise<BindMountRequest[]> {
    const mounts: BindMountRequest[] = [];
    for (const id of ids) {
      const task = await taskRepository.findById(this.deps.db, id);
      if (!task || task.kind !== 'experiment') {
        throw new DomainError('INVALID_TASK_CONFIG', `experiment ${id} does not exist`);
      }
      enforce(taskPolicies.read.check(actor, await this.target(id)));
      const logs = runSpecOf(task).bindMounts.find((m) => m.containerPath === EXPERIMENT_LOG_DIR);
      if (logs) mounts.push({ host_path: logs.hostPath, container_path: `${EXPERIMENT_LOG_DIR}/${id}`, read_only: true });
    }
    return mounts;
  }
}
