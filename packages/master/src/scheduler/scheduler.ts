import type { Logger } from 'pino';
import { crashPoint, SHARED_ROOT_LABEL, type AgentAction, type PollResponse, type RunSpec, type TaskKind, type TaskRunSpec } from '@trainyard/shared';
import type { AgentRecord } from '../agents/agent-repository.js';
import { isOneShot, type AgentService } from '../agents/agent-service.js';
import type { Clock } from '../clock.js';
import type { TaskRow } from '../db/schema.js';
import type { QuotaService } from '../quotas/quota-service.js';
import type { ActiveLoad, TaskLoad } from '../quotas/quota-repository.js';
import { runSpecOf } from '../tasks/task-mapper.js';
import type { TaskService } from '../tasks/task-service.js';
import { fits, freeCapacity, portsFree } from './fit.js';

export interface SchedulerOptions {
  leaseTimeoutMs: number;
  killGraceMs: number;
  /** `fair_share`: owners with less recent usage first, then the oldest task; `fifo`: the oldest task. */
  policy: 'fifo' | 'fair_share';
}

// How far down the queue one assignment looks for a task that fits: the oldest tasks of each owner
// in each group, so that one long queue (held back by a quota, say) never hides everyone else's.
const QUEUE_SCAN = 200;
const QUEUE_SCAN_PER_HEAD = 20;

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
  /**
   * The last decision found every queued task held back by a quota: nothing any agent could take,
   * so an offer is not passed round the other agents (a quota frees room when a run ends, which
   * offers work again).
   */
  private heldByQuotas = false;
  // Assignments run one at a time, so two polls never fill the same free capacity twice.
  private assigning: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      tasks: TaskService;
      /** Which agents may take work, and what they have (the agents domain). */
      agents: Pick<AgentService, 'requireAlive'>;
      /** Streams the master wants the agent to dial back (the interactive domain's broker). */
      streams?: { take(agentId: string): AgentAction[] };
      /** Quotas (the gate every assignment passes) and fair-share usage. */
      quotas: Pick<QuotaService, 'anyQuota' | 'activeLoads' | 'gate' | 'scores'>;
      options: SchedulerOptions;
    },
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

  /** A kill was asked of a task on `agentId`, or a stream to dial back: answer its poll now. */
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
        if (!this.heldByQuotas && (await this.queueHasWork())) this.passOffer(woke.round);
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
    return (await this.deps.tasks.queued(1)).length > 0;
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
      // Unref'd: a poll held open must not keep a closed master's process alive.
      const timer = setTimeout(() => waiter.wake({ kind: 'timeout' }), ms).unref();
      // One poll per agent: a newer one (the agent reconnected) releases an older one.
      this.waiters.get(agentId)?.wake({ kind: 'replaced' });
      this.waiters.set(agentId, waiter);
    });
  }

  /** The agent took the lease: from now on it may run the task, and only it. */
  async acknowledge(agentId: string, taskId: number, leaseId: string): Promise<TaskRunSpec> {
    const task = await this.deps.tasks.findLeased(agentId, taskId, leaseId);
    await this.deps.tasks.acknowledge(task);
    crashPoint('master:after-ack');
    return this.spec(task, leaseId);
  }

  /** Assignments nobody acknowledged in time go back to the queue (the agent never started them). */
  async expireLeases(): Promise<void> {
    const { clock, tasks, logger } = this.deps;
    const expired = await tasks.unacknowledgedSince(clock.now() - this.deps.options.leaseTimeoutMs);
    for (const task of expired) {
      const reason = `agent ${task.agent_id} did not take the task in time`;
      if (await tasks.release(task, reason)) logger.warn({ taskId: task.id, agent: task.agent_id }, `${reason}; back to the queue`);
    }
  }

  private async pendingActions(agentId: string): Promise<AgentAction[]> {
    const agent = await this.deps.agents.requireAlive(agentId);
    const held = await this.deps.tasks.activeOnAgent(agentId);
    const actions: AgentAction[] = [...(this.deps.streams?.take(agentId) ?? [])];
    for (const task of held) {
      if (task.state === 'ASSIGNED' && task.lease_acked_at === null) {
        actions.push({ type: 'start', spec: this.spec(task, task.lease_id!) });
      }
      if (task.kill_requested_at !== null) {
        actions.push({ type: 'kill', taskId: task.id, leaseId: task.lease_id!, graceMs: this.deps.options.killGraceMs });
      }
    }
    const waitingForAck = actions.some((a) => a.type === 'start');
    // Streams are answered at once, without waiting for an assignment. A one-shot agent runs the one task it was started for.
    if (!waitingForAck && agent.enabled && !isOneShot(agent) && !actions.some((a) => a.type === 'open')) {
      const assigned = await this.assignNext(agent);
      if (assigned) actions.push({ type: 'start', spec: this.spec(assigned, assigned.lease_id!) });
    }
    return actions;
  }

  private assignNext(agent: AgentRecord): Promise<TaskRow | undefined> {
    const run = this.assigning.then(() => this.assignNextNow(agent));
    this.assigning = run.catch(() => undefined);
    return run;
  }

  /**
   * One assignment decision, inside the one-at-a-time section: the quota snapshot (the gate), the
   * order, the check and the assignment. Quota use grows only through assignments, all made here one
   * at a time, so nothing can use the room the gate saw between its snapshot and the assignment.
   * Tasks passed over get their pending reason, written only when it changed.
   */
  private async assignNextNow(agent: AgentRecord): Promise<TaskRow | undefined> {
    const { tasks, logger } = this.deps;
    const held = await tasks.activeOnAgent(agent.id);
    const heldSpecs = held.map((t) => runSpecOf(t));
    const free = freeCapacity(agent.resources, heldSpecs.map((s) => s.resources));
    const heldPorts = heldSpecs.map((s) => s.ports);
    const queue = await this.dispatchOrder();
    // Held by quotas: every task seen waits for a quota, and no task went unseen.
    let allHeld = queue.items.length > 0 && queue.items.length < QUEUE_SCAN;
    for (const { task: candidate, spec, load } of queue.items) {
      const quotaReason = queue.gate.blocked(load);
      const fitsHere = fits(spec.resources, free) && hasImage(agent, spec) && hasSharedRoot(agent, spec) && portsFree(agent.executor, spec.ports, heldPorts);
      const reason = quotaReason ?? (fitsHere ? null : 'NO_AGENT_FITS');
      if (quotaReason === null) allHeld = false;
      if (reason !== null) {
        if (reason !== candidate.pending_reason) await tasks.setPendingReason(candidate.id, reason);
        continue;
      }
      const assigned = await tasks.assign(candidate, agent.id);
      if (!assigned) continue;
      queue.gate.charge(load);
      logger.info({ taskId: candidate.id, agent: agent.id, leaseId: assigned.lease_id }, 'task assigned');
      crashPoint('master:after-assign');
      this.heldByQuotas = false;
      return assigned;
    }
    this.heldByQuotas = allHeld;
    return undefined;
  }

  /**
   * The queue's head in the order the scheduler tries it, with the quota gate and each owner's
   * fair-share score (`yard queue` shows the same). Under fair_share, owners with less decayed
   * usage come first, then the oldest task; one owner alone is plain age order.
   */
  async dispatchOrder(): Promise<{ items: Array<{ task: TaskRow; spec: RunSpec; load: TaskLoad; usage: number }>; gate: Awaited<ReturnType<QuotaService['gate']>> }> {
    const { tasks, quotas, options } = this.deps;
    const candidates = await tasks.queuedHeads(QUEUE_SCAN_PER_HEAD, QUEUE_SCAN);
    if (candidates.length === 0) return { items: [], gate: await quotas.gate([]) };
    const fair = options.policy === 'fair_share' && new Set(candidates.map((c) => c.owner_id)).size > 1;
    const loads: ActiveLoad[] | undefined = fair || (await quotas.anyQuota()) ? await quotas.activeLoads() : undefined;
    const gate = await quotas.gate(loads ?? []);
    const scores = fair ? await quotas.scores(loads ?? []) : undefined;
    const items = candidates.map((task) => {
      const spec = runSpecOf(task);
      const r = spec.resources;
      const load: TaskLoad = { ownerId: task.owner_id, groupId: task.group_id, cpu: r.cpu ?? 1, memory: r.memory ?? 0, gpus: r.gpus };
      return { task, spec, load, usage: scores?.get(task.owner_id)?.score ?? 0 };
    });
    if (fair) items.sort((a, b) => a.usage - b.usage || a.task.id - b.task.id);
    return { items, gate };
  }

  /** The lease's spec: the task's stored run spec, as admission made it. */
  private spec(task: TaskRow, leaseId: string): TaskRunSpec {
    return { ...runSpecOf(task), taskId: task.id, leaseId, kind: task.kind as TaskKind, name: task.name };
  }
}

/** A task that may not pull goes only to an agent that has its image (or runs any; or never said which it has). */
const hasImage = (agent: AgentRecord, spec: RunSpec) => spec.pull !== 'never' || agent.images === null || agent.images.includes(spec.image);

/** A task that mounts a group's shared directory goes only to an agent with a --shared-root. */
const hasSharedRoot = (agent: AgentRecord, spec: RunSpec) => !spec.sharedDirs?.length || agent.labels[SHARED_ROOT_LABEL] === 'yes';
