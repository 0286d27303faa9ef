import { crashPoint, type AgentAction, type PollResponse, type TaskKind, type TaskRunSpec } from '@trainyard/shared';
import type { AgentRecord } from '../../agents/agent-repository.js';
import { isOneShot, type AgentService } from '../../agents/agent-service.js';
import type { TaskRow } from '../../db/schema.js';
import { runSpecOf } from '../../tasks/task-mapper.js';
import type { TaskService } from '../../tasks/task-service.js';

/** Why a waiting poll woke: work offered in a round, a kill or stream for this agent, its time up, a newer poll, or the master closing. */
type Wake = { kind: 'offer'; round: number } | { kind: 'kill' } | { kind: 'timeout' } | { kind: 'replaced' };

interface Waiter {
  pool: string;
  wake(reason: Wake): void;
}

/** Where a pool's new work comes from when one of its agents asks: the pool's manager. */
export interface WorkSource {
  /** Place work on this agent if the scheduler lets something start that fits here (one decision). */
  take(agent: AgentRecord): Promise<TaskRow | undefined>;
  /** A woken agent took nothing: whether the offer goes on to the pool's next waiting agent. */
  passOn(): Promise<boolean>;
}

/**
 * The agents' wire: their long poll, the leases they acknowledge, and what each poll answers
 * (a lease to start, redelivered until acknowledged; kills; streams to dial back). Every agent
 * speaks it, whichever pool it serves (a Slurm pool's one-shot agents too); new work comes only
 * from the agent's pool's `WorkSource`.
 *
 * An assignment carries a lease id; the agent must `acknowledge` it before it starts anything, and
 * the master redelivers an unacknowledged lease on every poll until it is acknowledged or expires
 * back to the queue. So a lost poll response or a master restart between assignment and
 * acknowledgement can delay a task, never run it twice.
 */
export class AgentChannel {
  private readonly waiters = new Map<string, Waiter>();
  /** The last offer round each agent was tried in. */
  private readonly tried = new Map<string, number>();
  private round = 0;
  private readonly sources = new Map<string, WorkSource>();
  private closed = false;

  constructor(
    private readonly deps: {
      tasks: TaskService;
      /** Which agents may take work, and what they have (the agents domain). */
      agents: Pick<AgentService, 'requireAlive'>;
      /** Streams the master wants the agent to dial back (the interactive domain's broker). */
      streams?: { take(agentId: string): AgentAction[] };
      /** Image pulls, loads and removals waiting for the agent (the images domain's operations). */
      images?: { take(agentId: string): AgentAction[] };
      killGraceMs: number;
      /** master.yaml `agents.mount_probe_timeout`, sent with every lease's spec. */
      mountProbeTimeoutMs?: number;
    },
  ) {}

  /** A pool's manager serves its agents' requests for work. */
  serve(pool: string, source: WorkSource): void {
    this.sources.set(pool, source);
  }

  /**
   * Long poll: answers at once when there is something for the agent, else waits up to `waitMs`
   * for work to be offered to it.
   */
  async poll(agentId: string, waitMs: number): Promise<PollResponse> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const { actions, pool } = await this.pendingActions(agentId);
      const remaining = deadline - Date.now();
      if (actions.length > 0 || remaining <= 0 || this.closed) return { actions };
      const woke = await this.wait(agentId, pool, remaining);
      // A newer poll from the same agent took over: this one is answered, empty, at once.
      if (woke.kind === 'replaced') return { actions: [] };
      if (woke.kind === 'timeout') return { actions: (await this.pendingActions(agentId)).actions };
      if (woke.kind === 'offer') {
        // Offered work: if nothing fits here, the next waiting agent of the pool gets its turn in this round.
        const next = await this.pendingActions(agentId);
        if (next.actions.length > 0) return { actions: next.actions };
        if (await this.sources.get(pool)?.passOn()) this.passOffer(pool, woke.round);
      }
    }
  }

  /**
   * One offer goes round the pool's waiting agents in order, each tried once per round, until one
   * of them takes the work: a new task wakes one agent, not a thousand.
   */
  offer(pool: string): void {
    this.passOffer(pool, ++this.round);
  }

  /** A kill for a task this agent holds, or a stream to dial back: answer its poll now. */
  wake(agentId: string): void {
    this.waiters.get(agentId)?.wake({ kind: 'kill' });
  }

  /** The master is stopping: every held poll is answered now (an agent's empty answer; it polls again, elsewhere or later). */
  close(): void {
    this.closed = true;
    this.answerAll();
  }

  /** Every held poll is answered now, empty: the master stopped leading (several masters), and its agents go on to the leader. */
  answerAll(): void {
    for (const waiter of [...this.waiters.values()]) waiter.wake({ kind: 'replaced' });
  }

  private passOffer(pool: string, round: number): void {
    for (const [agentId, waiter] of this.waiters) {
      if (waiter.pool !== pool || (this.tried.get(agentId) ?? 0) >= round) continue;
      this.tried.set(agentId, round);
      waiter.wake({ kind: 'offer', round });
      return;
    }
  }

  private wait(agentId: string, pool: string, ms: number): Promise<Wake> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        pool,
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
    return this.leaseSpec(task, leaseId);
  }

  /** The lease's spec: the task's stored run spec, as admission made it, with how long its mounts may take to answer. */
  private leaseSpec(task: TaskRow, leaseId: string): TaskRunSpec {
    return {
      ...runSpecOf(task),
      taskId: task.id,
      leaseId,
      kind: task.kind as TaskKind,
      name: task.name,
      ...(this.deps.mountProbeTimeoutMs === undefined ? {} : { mountProbeTimeoutMs: this.deps.mountProbeTimeoutMs }),
    };
  }

  private async pendingActions(agentId: string): Promise<{ actions: AgentAction[]; pool: string }> {
    const agent = await this.deps.agents.requireAlive(agentId);
    const held = await this.deps.tasks.activeOnAgent(agentId);
    const actions: AgentAction[] = [...(this.deps.streams?.take(agentId) ?? []), ...(this.deps.images?.take(agentId) ?? [])];
    for (const task of held) {
      if (task.state === 'ASSIGNED' && task.lease_acked_at === null) {
        actions.push({ type: 'start', spec: this.leaseSpec(task, task.lease_id!) });
      }
      if (task.kill_requested_at !== null) {
        actions.push({ type: 'kill', taskId: task.id, leaseId: task.lease_id!, graceMs: this.deps.killGraceMs });
      }
    }
    const waitingForAck = actions.some((a) => a.type === 'start');
    // Streams are answered at once, without waiting for an assignment.
    // A one-shot agent runs the one task it was started for: it is never offered other work.
    if (!waitingForAck && agent.enabled && !isOneShot(agent) && !this.closed && !actions.some((a) => a.type === 'open')) {
      const assigned = await this.sources.get(agent.pool)?.take(agent);
      if (assigned) actions.push({ type: 'start', spec: this.leaseSpec(assigned, assigned.lease_id!) });
    }
    return { actions, pool: agent.pool };
  }
}
