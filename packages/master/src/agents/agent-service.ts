import type { Logger } from 'pino';
import {
  AGENT_RECONNECT,
  DEFAULT_POOL,
  normalizeImage,
  ONE_SHOT_LABEL,
  oneShotAgentId,
  type Agent,
  type AgentImageList,
  type AgentImages,
  type AgentResources,
  type ExecutorName,
  type HeartbeatResponse,
  type LeaseRef,
  type RegisterAgentResponse,
} from '@trainyard/shared';
import type { AgentBinding } from '../authz/agents.js';
import { toIso, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { DomainError } from '../errors.js';
import { ONE_MASTER, type Fence } from '../ha/leadership.js';
import type { TaskService } from '../tasks/task-service.js';
import { agentRepository, agentTokenRepository, type AgentRecord } from './agent-repository.js';
import type { AgentTokenService } from './agent-token-service.js';

export interface AgentTimings {
  heartbeatIntervalMs: number;
  lostTimeoutMs: number;
}

/** Which pools agents may join (the resource managers): a pool's manager says whether it takes an agent. */
export interface AgentPools {
  names(): string[];
  find(pool: string): { admitAgent(agent: { id: string; labels: Record<string, string> }): string | null } | undefined;
}

/** Registration, heartbeats, and what happens to an agent that goes silent; which images the agents have. */
export class AgentService {
  /** When this master started (with several masters: when it began to lead): agents could not heartbeat to it before. */
  private startedAt: number;
  /** Per agent, its pool and the images it has (null: any); read once, then kept by registrations and heartbeats. */
  private images: Promise<Map<string, { pool: string; images: Set<string> | null }>> | undefined;

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      logger: Logger;
      tasks: TaskService;
      timings: AgentTimings;
      /** Called when an agent can take work it could not before (it registered, or was enabled): the scheduler's entry point. */
      onCapacityChanged?: () => void;
      /** One-shot agents' tokens, forgotten with the agent once its task is over. */
      tokens?: Pick<AgentTokenService, 'forgetTask'>;
      /** The pools an agent may join (`yard-agent --pool`). */
      pools?: () => AgentPools;
      /** Several masters: marking an agent lost is the leader's write. */
      fence?: Fence;
    },
  ) {
    this.startedAt = deps.clock.now();
  }

  /**
   * This master leads from now on (several masters): agents were heartbeating to another one, or to
   * none during the failover, so nobody is lost before it has led for lost_timeout; the images
   * other masters heard of are read again.
   */
  leadershipBegan(): void {
    this.startedAt = this.deps.clock.now();
    this.images = undefined;
  }

  /**
   * An agent id belongs to the token that registered it: another token may take it over only
   * once that one is revoked (an agent moved to a new token). So no agent token can speak for,
   * or take over, another machine.
   */
  async register(
    id: string,
    tokenId: number,
    body: {
      executor: ExecutorName;
      resources: AgentResources;
      labels: Record<string, string>;
      version: string;
      images?: AgentImages | undefined;
      imageDetails?: AgentImageList | undefined;
      pool?: string | undefined;
    },
    /** Set when the token is a one-shot agent's (requireAgent checked that `id` is its agent id). */
    oneShot?: { taskId: number; leaseId: string },
  ): Promise<RegisterAgentResponse> {
    const { db, clock, logger, tasks } = this.deps;
    body = await this.oneShotRegistration(id, body, oneShot);
    const pool = body.pool ?? DEFAULT_POOL;
    // A one-shot agent's pool is its task's, which the master chose when it minted the token.
    if (!oneShot) this.checkPool(id, pool, body.labels);
    const refuseIfBound = async () => {
      const existing = await agentRepository.find(db, id);
      if (existing && existing.tokenId !== null && existing.tokenId !== tokenId) {
        const [owner] = await agentTokenRepository.list(db, existing.tokenId);
        if (owner && owner.revoked_at === null) {
          throw new DomainError(
            'FORBIDDEN',
            `agent '${id}' is registered with another agent token ('${owner.name}'); only that token may act for it (revoke it to move the agent to a new token)`,
          );
        }
      }
    };
    await refuseIfBound();
    const now = clock.now();
    const registered = await agentRepository.upsert(db, {
      id,
      tokenId,
      executor: body.executor,
      resources: body.resources,
      labels: body.labels,
      version: body.version,
      state: 'alive',
      registeredAt: now,
      lastHeartbeatAt: now,
      images: body.images ?? null,
      // Not said (an agent from before 0027): not known, so null; said: the agent's word.
      imageDetails: body.imageDetails ?? null,
      pool,
    });
    // Another token took the id between the check and the write (the write itself refuses that).
    if (!registered) {
      await refuseIfBound();
      throw new DomainError('CONFLICT', `agent '${id}' changed while it was registering; try again`);
    }
    // A one-shot agent has no images to speak of (the scheduler never places by them on it).
    if (!oneShot) await this.noteImages(id, body.images ?? null, pool);
    logger.info({ agent: id, pool, executor: body.executor, resources: body.resources }, 'agent registered');
    this.deps.onCapacityChanged?.();
    return { heartbeatIntervalMs: this.deps.timings.heartbeatIntervalMs, known: await tasks.knownOn(id), at: now };
  }

  /** An agent joins a pool master.yaml has, whose manager takes it (an agents pool takes any agent). */
  private checkPool(id: string, pool: string, labels: Record<string, string>): void {
    const pools = this.deps.pools?.();
    if (!pools) return;
    const manager = pools.find(pool);
    if (!manager) {
      throw new DomainError('POOL_NOT_FOUND', `agent '${id}' names pool '${pool}', which master.yaml does not have (pools: ${pools.names().join(', ')}); start it with --pool NAME of one of them`);
    }
    const refusal = manager.admitAgent({ id, labels });
    if (refusal) throw new DomainError('FORBIDDEN', `agent '${id}' may not join pool '${pool}': ${refusal}`);
  }

  /** At start: agents registered in pools master.yaml no longer has get no new work; the log says so. */
  async warnAboutStrays(pools: string[]): Promise<void> {
    for (const agent of await agentRepository.list(this.deps.db)) {
      if (agent.state === 'alive' && !pools.includes(agent.pool)) {
        this.deps.logger.warn({ agent: agent.id, pool: agent.pool }, `agent ${agent.id} serves pool '${agent.pool}', which master.yaml no longer has: it gets no new work until it registers with another --pool`);
      }
    }
  }

  /**
   * A one-shot agent (issue 22) registers for the task leased to it, and the master, not the
   * agent, says so: the label `trainyard.task` (the scheduler gives such an agent no other work,
   * and admission never counts its images). Other agents may not claim the label.
   */
  private async oneShotRegistration<B extends { labels: Record<string, string>; images?: AgentImages | undefined; pool?: string | undefined }>(
    id: string,
    body: B,
    oneShot: { taskId: number; leaseId: string } | undefined,
  ): Promise<B> {
    const { [ONE_SHOT_LABEL]: _claimed, ...labels } = body.labels;
    if (!oneShot) return { ...body, labels };
    // The lease must be this agent's: a task placed elsewhere since, or ended, refuses (LEASE_INVALID).
    const task = await this.deps.tasks.findLeased(oneShotAgentId(oneShot.taskId), oneShot.taskId, oneShot.leaseId);
    this.deps.logger.info({ agent: id, taskId: oneShot.taskId }, 'one-shot agent registering for its task');
    // Its pool is its task's (a Slurm pool's), never an agents pool whose capacity it would seem to add to.
    return { ...body, labels: { ...labels, [ONE_SHOT_LABEL]: String(oneShot.taskId) }, images: null, pool: task.pool };
  }

  /**
   * The token an agent id is bound to, for the `agents.bound` check on every agent call but
   * registration. Unknown agents get AGENT_NOT_FOUND (they register again).
   */
  async binding(id: string): Promise<AgentBinding> {
    const agent = await agentRepository.find(this.deps.db, id);
    if (!agent) throw new DomainError('AGENT_NOT_FOUND', `agent '${id}' is not registered: register again`);
    return { id, tokenId: agent.tokenId };
  }

  /** An agent that may take work: registered and not marked lost (a lost one must register again and reconcile). */
  async requireAlive(id: string): Promise<AgentRecord> {
    const agent = await agentRepository.find(this.deps.db, id);
    if (!agent || agent.state !== 'alive') {
      // A lost agent's tasks were already ended or requeued: it must register and reconcile.
      throw new DomainError('AGENT_NOT_FOUND', `agent '${id}' is not registered (or was marked lost): register again`);
    }
    return agent;
  }

  /**
   * The agent is alive, and says which leases it holds. Reconciles both ways: the answer lists
   * what the master believes runs there (the agent stops anything else), and an acknowledged
   * lease the agent no longer holds ends here: queued again if it never started, else LOST.
   */
  async heartbeat(id: string, running: LeaseRef[], listedAfter: number | undefined, images?: AgentImages, imageDetails?: AgentImageList): Promise<HeartbeatResponse> {
    const { db, clock, tasks } = this.deps;
    const agent = await this.requireAlive(id);
    const now = clock.now();
    await agentRepository.update(db, id, { lastHeartbeatAt: now, ...(images === undefined ? {} : { images }), ...(imageDetails === undefined ? {} : { imageDetails }) });
    if (images !== undefined && !isOneShot(agent)) await this.noteImages(id, images);
    if (listedAfter !== undefined) await this.endMissingRuns(id, running, listedAfter);
    return { known: await tasks.knownOn(id), at: now };
  }

  /**
   * Leases the agent does not list although it must have. The agent tracks a lease before it
   * sends the acknowledgement, and took its list after it heard the master's `listedAfter`: a
   * lease acknowledged before that was tracked when the list was taken. One acknowledged later
   * may be missing only because the list is older than it, however slow the heartbeat was, so
   * it is judged by a later heartbeat. (No grace by the clock: a busy machine outlasts any.)
   */
  private async endMissingRuns(id: string, running: LeaseRef[], listedAfter: number): Promise<void> {
    const { logger, tasks } = this.deps;
    const held = new Set(running.map((r) => `${r.taskId}:${r.leaseId}`));
    for (const task of await tasks.activeOnAgent(id)) {
      if (task.lease_acked_at === null || task.lease_acked_at >= listedAfter || held.has(`${task.id}:${task.lease_id}`)) continue;
      const message = `agent ${id} no longer holds the task`;
      logger.warn({ taskId: task.id, agent: id, state: task.state }, message);
      await settle(task.id, logger, () =>
        task.state === 'RUNNING' ? tasks.finishRun(task, 'LOST', { message: `${message} (found at its heartbeat)` }) : tasks.release(task, `${message}; it never started`),
      );
    }
  }

  /**
   * Whether any agent of `pool` could run `image` (normalised) without pulling: present when one
   * has it or runs any image, absent when the pool's agents are known and none has it, unknown when
   * none is known yet.
   */
  async whereIs(image: string, pool: string): Promise<'present' | 'absent' | 'unknown'> {
    const inPool = [...(await this.imageIndex()).values()].filter((a) => a.pool === pool);
    if (inPool.length === 0) return 'unknown';
    for (const { images } of inPool) if (images === null || images.has(image)) return 'present';
    return 'absent';
  }

  private imageIndex(): Promise<Map<string, { pool: string; images: Set<string> | null }>> {
    this.images ??= agentRepository
      .list(this.deps.db)
      .then((agents) => new Map(agents.filter((a) => !isOneShot(a)).map((a) => [a.id, { pool: a.pool, images: a.images === null ? null : new Set(a.images) }])));
    return this.images;
  }

  /** A registration says the agent's pool; a heartbeat keeps the one known. */
  private async noteImages(id: string, images: AgentImages, pool?: string): Promise<void> {
    const index = await this.imageIndex();
    const known = index.get(id)?.pool ?? DEFAULT_POOL;
    index.set(id, { pool: pool ?? known, images: images === null ? null : new Set(images.map(normalizeImage)) });
  }

  /** Every agent that serves a pool (not one-shot agents), as the master keeps it: pool, executor, state, and images with their details. */
  async poolRecords(): Promise<AgentRecord[]> {
    return (await agentRepository.list(this.deps.db)).filter((a) => !isOneShot(a));
  }

  /** When each of these agents was last heard from (a Slurm pool asks of its one-shot agents: is the job's agent still there?). */
  lastHeard(ids: readonly string[]): Promise<Map<string, number>> {
    return agentRepository.heardAt(this.deps.db, ids);
  }

  async list(): Promise<Agent[]> {
    const [agents, held] = [await agentRepository.list(this.deps.db), await this.deps.tasks.activeByAgent()];
    return agents.map((agent) => toAgent(agent, held.get(agent.id) ?? []));
  }

  /** Every agent as the master keeps it: its state, switch, resources and images (metrics count them, `yard why` checks a task against them). */
  async records(): Promise<AgentRecord[]> {
    return agentRepository.list(this.deps.db);
  }

  async setEnabled(id: string, enabled: boolean): Promise<Agent> {
    const { db, tasks } = this.deps;
    const agent = await agentRepository.find(db, id);
    if (!agent) throw new DomainError('AGENT_NOT_FOUND', `agent '${id}' does not exist`);
    await agentRepository.update(db, id, { enabled });
    if (enabled) this.deps.onCapacityChanged?.();
    const active = await tasks.activeOnAgent(id);
    return toAgent({ ...agent, enabled }, active.map((t) => t.id));
  }

  /**
   * Agents silent for longer than lost_timeout are lost; each task they held ends LOST, or
   * goes back to the queue when it never started or its config allows restarts. The time a
   * master was down is not silence: nobody is lost before it has been up for lost_timeout, and an
   * agent last heard before this master started gets the agents' longest reconnect delay on top
   * (AGENT_RECONNECT: it may be backing off from the master's downtime, heartbeats included).
   */
  async markLost(): Promise<void> {
    const { db, clock, logger, tasks } = this.deps;
    const up = clock.now() - this.startedAt;
    if (up < this.deps.timings.lostTimeoutMs) return;
    const silent = await agentRepository.silentSince(db, clock.now() - this.deps.timings.lostTimeoutMs);
    const backingOff = (agent: AgentRecord) => agent.lastHeartbeatAt < this.startedAt && up < this.deps.timings.lostTimeoutMs + AGENT_RECONNECT.maxMs;
    for (const agent of silent.filter((a) => !backingOff(a))) {
      const held = await tasks.activeOnAgent(agent.id);
      if (isOneShot(agent) && held.length === 0) {
        await this.forgetOneShot(agent, 'one-shot agent done: its task ended and its job is gone');
        continue;
      }
      await db.transaction().execute(async (trx) => {
        await (this.deps.fence ?? ONE_MASTER).hold(trx);
        await agentRepository.update(trx, agent.id, { state: 'lost' });
      });
      logger.warn({ agent: agent.id }, 'agent stopped heartbeating; marked lost');
      for (const task of held) {
        const message = `agent ${agent.id} stopped responding`;
        const neverAcknowledged = task.state === 'ASSIGNED' && task.lease_acked_at === null;
        await settle(task.id, logger, () => (neverAcknowledged ? tasks.release(task, message) : tasks.finishRun(task, 'LOST', { message })));
      }
      // Its token died with the lease: a one-shot agent can never register again, so nothing of it is kept.
      if (isOneShot(agent)) await this.forgetOneShot(agent, 'lost one-shot agent forgotten');
    }
  }

  /**
   * A one-shot agent that went quiet is not kept as lost: done when its task had left it (the job
   * ended), or lost with its task (ended above). Its record goes, with its task's tokens.
   */
  private async forgetOneShot(agent: AgentRecord, why: string): Promise<void> {
    await agentRepository.remove(this.deps.db, agent.id);
    await this.deps.tokens?.forgetTask(Number(agent.labels[ONE_SHOT_LABEL]));
    this.deps.logger.info({ agent: agent.id }, why);
  }
}

export const isOneShot = (agent: Pick<AgentRecord, 'labels'>) => agent.labels[ONE_SHOT_LABEL] !== undefined;

/** Ends one task; one that changed meanwhile (a report raced us) is left to the writer that won. */
async function settle(taskId: number, logger: Logger, end: () => Promise<unknown>): Promise<void> {
  try {
    await end();
  } catch (error) {
    if (!(error instanceof DomainError) || (error.code !== 'CONFLICT' && error.code !== 'ILLEGAL_TRANSITION')) throw error;
    logger.info({ taskId }, 'the task changed while it was being ended; left as it is');
  }
}

function toAgent(agent: AgentRecord, runningTasks: number[]): Agent {
  return {
    id: agent.id,
    pool: agent.pool,
    state: agent.state,
    enabled: agent.enabled,
    executor: agent.executor,
    resources: agent.resources,
    labels: agent.labels,
    version: agent.version,
    registeredAt: toIso(agent.registeredAt),
    lastHeartbeatAt: toIso(agent.lastHeartbeatAt),
    runningTasks,
  };
}
