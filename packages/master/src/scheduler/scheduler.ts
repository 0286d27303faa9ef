import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  AgentAction,
  AgentResources,
  KnownTask,
  PollResponse,
  TaskConfig,
  TaskKind,
  TaskRunSpec,
  TaskState,
} from '@trainyard/shared';
import { agentRepository } from '../agents/agent-repository.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import type { AgentRow, TaskRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { findLeasedTask, leaseInvalid } from '../tasks/lease.js';
import { taskRepository } from '../tasks/task-repository.js';
import type { TaskService } from '../tasks/task-service.js';
import { fits, freeCapacity } from './fit.js';

export interface SchedulerOptions {
  leaseTimeoutMs: number;
  killGraceMs: number;
  allowPull: boolean;
}

// How far down the queue one assignment looks for a task that fits.
const QUEUE_SCAN = 200;

/** Why a waiting poll woke: work offered in a round, a kill for this agent, its time up, or a newer poll. */
type Wake = { kind: 'offer'; round: number } | { kind: 'kill' } | { kind: 'timeout' } | { kind: 'replaced' };

interface Waiter {
  wake(reason: Wake): void;
}

/**
 * Hands QUEUED tasks to agents, first come first served among the tasks that fit.
 *
 * Agents long-poll `poll`. An assignment carries a lease id; the agent must `acknowledge` it
 * before it starts anything, and the master redelivers an unacknowledged lease on every poll
 * until it is acknowledged or expires back to the queue. So a lost poll response or a master
 * restart between assignment and acknowledgement can delay a task, never run it twice.
 */
export class Scheduler {
  private readonly waiters = new Map<string, Waiter>();
  /** The last offer round each agent was tried in. */
  private readonly tried = new Map<string, number>();
  private round = 0;
  // Assignments run one at a time, so two polls never fill the same free capacity twice.
  private assigning: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: { db: Db; clock: Clock; logger: Logger; tasks: TaskService; options: SchedulerOptions },
  ) {}

  /** Entry point for every newly QUEUED task: offer it to the agents waiting for work. */
  taskQueued(taskId: number): void {
    this.deps.logger.debug({ taskId }, 'task queued');
    this.offerWork();
  }

  /** Capacity appeared (an agent registered or was enabled, a run ended): offer the queue again, if it holds anything. */
  capacityChanged(): void {
    void this.queueHasWork().then((has) => has && this.offerWork());
  }

  /** A kill was asked of a task on `agentId`: answer its poll now. */
  killRequested(agentId: string): void {
    this.waiters.get(agentId)?.wake({ kind: 'kill' });
  }

  /**
   * Long poll: answers at once when there is something for the agent, else waits up to
   * `waitMs` for work to be offered to it.
   */
  async poll(agentId: string, waitMs: number): Promise<PollResponse> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const actions = await this.pendingActions(agentId);
      const remaining = deadline - Date.now();
      if (actions.length > 0 || remaining <= 0) return { actions };
      const woke = await this.wait(agentId, remaining);
      // A newer poll from the same agent took over: this one is answered, empty, at once.
      if (woke.kind === 'replaced') return { actions: [] };
      if (woke.kind === 'timeout') return { actions: await this.pendingActions(agentId) };
      if (woke.kind === 'offer') {
        // Offered work: if nothing fits here, the next waiting agent gets its turn in this round.
        const next = await this.pendingActions(agentId);
        if (next.length > 0) return { actions: next };
        if (await this.queueHasWork()) this.passOffer(woke.round);
      }
    }
  }

  /**
   * One offer goes round the waiting agents in order, each tried once per round, until one of
   * them takes the work: a new task wakes one agent, not a thousand.
   */
  private offerWork(): void {
    this.passOffer(++this.round);
  }

  private async queueHasWork(): Promise<boolean> {
    return (await taskRepository.queued(this.deps.db, 1)).length > 0;
  }

  private passOffer(round: number): void {
    for (const [agentId, waiter] of this.waiters) {
      if ((this.tried.get(agentId) ?? 0) >= round) continue;
      this.tried.set(agentId, round);
      waiter.wake({ kind: 'offer', round });
      return;
    }
  }

  private wait(agentId: string, ms: number): Promise<Wake> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        wake: (reason) => {
          clearTimeout(timer);
          if (this.waiters.get(agentId) === waiter) this.waiters.delete(agentId);
          resolve(reason);
        },
      };
      // A long poll must not keep a closed master's process alive: the server's sockets do that while it runs.
      const timer = setTimeout(() => waiter.wake({ kind: 'timeout' }), ms).unref();
      // One poll per agent: a newer one (the agent reconnected) releases an older one.
      this.waiters.get(agentId)?.wake({ kind: 'replaced' });
      this.waiters.set(agentId, waiter);
    });
  }

  /** The agent took the lease: from now on it may run the task, and only it. */
  async acknowledge(agentId: string, taskId: number, leaseId: string): Promise<TaskRunSpec> {
    const { db, clock } = this.deps;
    const task = await findLeasedTask(db, agentId, taskId, leaseId);
    if (task.lease_acked_at === null) {
      const ok = await taskRepository.update(db, taskId, 'ASSIGNED', { lease_acked_at: clock.now(), updated_at: clock.now() });
      if (!ok) throw leaseInvalid(taskId);
    }
    return this.spec(task, leaseId);
  }

  /** What the master believes runs on an agent, for it to reconcile against what it finds. */
  async known(agentId: string): Promise<KnownTask[]> {
    const active = await taskRepository.activeOnAgent(this.deps.db, agentId);
    return active.map((t) => ({
      taskId: t.id,
      leaseId: t.lease_id!,
      state: t.state as TaskState,
      acknowledged: t.lease_acked_at !== null,
      logOffset: t.log_offset,
      killRequested: t.kill_requested_at !== null,
    }));
  }

  /** Assignments nobody acknowledged in time go back to the queue (the agent never started them). */
  async expireLeases(): Promise<void> {
    const { db, clock } = this.deps;
    const expired = await taskRepository.unacknowledgedSince(db, clock.now() - this.deps.options.leaseTimeoutMs);
    for (const task of expired) await this.release(task, `agent ${task.agent_id} did not take the task in time`);
  }

  /** Puts an unacknowledged assignment back in the queue: nothing ran, so it costs no restart. */
  async release(task: TaskRow, reason: string): Promise<void> {
    const { db, clock, tasks, logger } = this.deps;
    const ok = await taskRepository.update(db, task.id, 'ASSIGNED', {
      state: 'QUEUED',
      agent_id: null,
      lease_id: null,
      assigned_at: null,
      updated_at: clock.now(),
    });
    if (!ok) return;
    logger.warn({ taskId: task.id, agent: task.agent_id }, `${reason}; back to the queue`);
    await tasks.appendLogs(task.id, [{ stream: 'system', line: `[trainyard] ${reason}; queued again` }]);
    this.offerWork();
  }

  private async pendingActions(agentId: string): Promise<AgentAction[]> {
    const { db } = this.deps;
    const agent = await agentRepository.find(db, agentId);
    if (!agent || agent.state !== 'alive') {
      throw new DomainError('AGENT_NOT_FOUND', `agent '${agentId}' is not registered (or was marked lost): register again`);
    }
    const held = await taskRepository.activeOnAgent(db, agentId);
    const actions: AgentAction[] = [];
    for (const task of held) {
      if (task.state === 'ASSIGNED' && task.lease_acked_at === null) {
        actions.push({ type: 'start', spec: this.spec(task, task.lease_id!) });
      }
      if (task.kill_requested_at !== null) {
        actions.push({ type: 'kill', taskId: task.id, leaseId: task.lease_id!, graceMs: this.deps.options.killGraceMs });
      }
    }
    const waitingForAck = actions.some((a) => a.type === 'start');
    if (!waitingForAck && agent.enabled === 1) {
      const assigned = await this.assignNext(agent);
      if (assigned) actions.push({ type: 'start', spec: this.spec(assigned, assigned.lease_id!) });
    }
    return actions;
  }

  private assignNext(agent: AgentRow): Promise<TaskRow | undefined> {
    const run = this.assigning.then(() => this.assignNextNow(agent));
    this.assigning = run.catch(() => undefined);
    return run;
  }

  private async assignNextNow(agent: AgentRow): Promise<TaskRow | undefined> {
    const { db, clock, tasks, logger } = this.deps;
    const held = await taskRepository.activeOnAgent(db, agent.id);
    const free = freeCapacity(JSON.parse(agent.resources) as AgentResources, held.map((t) => configOf(t).resources));
    for (const candidate of await taskRepository.queued(db, QUEUE_SCAN)) {
      if (!fits(configOf(candidate).resources, free)) continue;
      const now = clock.now();
      const leaseId = randomUUID();
      const ok = await taskRepository.update(db, candidate.id, 'QUEUED', {
        state: 'ASSIGNED',
        agent_id: agent.id,
        lease_id: leaseId,
        assigned_at: now,
        lease_acked_at: null,
        log_offset: 0,
        updated_at: now,
      });
      if (!ok) continue;
      logger.info({ taskId: candidate.id, agent: agent.id, leaseId }, 'task assigned');
      await tasks.appendLogs(candidate.id, [{ stream: 'system', line: `[trainyard] assigned to agent ${agent.id}` }]);
      return (await taskRepository.findById(db, candidate.id)) ?? undefined;
    }
    return undefined;
  }

  private spec(task: TaskRow, leaseId: string): TaskRunSpec {
    const config = configOf(task);
    return {
      taskId: task.id,
      leaseId,
      kind: task.kind as TaskKind,
      name: task.name,
      image: config.image,
      entrypoint: config.entrypoint,
      environment: config.environment,
      bindMounts: config.bind_mounts,
      resources: config.resources,
      runAs: { uid: task.run_uid, user: task.run_user, gid: task.run_gid, group: task.run_group },
      allowPull: this.deps.options.allowPull,
    };
  }
}

const configOf = (task: TaskRow) => JSON.parse(task.config) as TaskConfig;
