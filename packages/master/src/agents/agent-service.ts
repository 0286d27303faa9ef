import type { Logger } from 'pino';
import {
  AGENT_RECONNECT,
  normalizeImage,
  type Agent,
  type AgentImages,
  type AgentResources,
  type ExecutorName,
  type HeartbeatResponse,
  type LeaseRef,
  type RegisterAgentResponse,
} from '@trainyard/shared';
import type { ImageCatalog } from '../admission/rules.js';
import type { AgentBinding } from '../authz/agents.js';
import { toIso, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { DomainError } from '../errors.js';
import type { TaskService } from '../tasks/task-service.js';
import { agentRepository, agentTokenRepository, type AgentRecord } from './agent-repository.js';

export interface AgentTimings {
  heartbeatIntervalMs: number;
  lostTimeoutMs: number;
}

/** Registration, heartbeats, and what happens to an agent that goes silent; which images the agents have. */
export class AgentService implements ImageCatalog {
  /** When this master started: agents could not heartbeat to it before. */
  private readonly startedAt: number;
  /** Per agent, the images it has (null: any); read once, then kept by registrations and heartbeats. */
  private images: Promise<Map<string, Set<string> | null>> | undefined;

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      logger: Logger;
      tasks: TaskService;
      timings: AgentTimings;
      /** Called when an agent can take work it could not before (it registered, or was enabled): the scheduler's entry point. */
      onCapacityChanged?: () => void;
    },
  ) {
    this.startedAt = deps.clock.now();
  }

  /**
   * An agent id belongs to the token that registered it: another token may take it over only
   * once that one is revoked (an agent moved to a new token). So no agent token can speak for,
   * or take over, another machine.
   */
  async register(
    id: string,
    tokenId: number,
    body: { executor: ExecutorName; resources: AgentResources; labels: Record<string, string>; version: string; images?: AgentImages | undefined },
  ): Promise<RegisterAgentResponse> {
    const { db, clock, logger, tasks } = this.deps;
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
    const now = clock.now();
    await agentRepository.upsert(db, {
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
    });
    await this.noteImages(id, body.images ?? null);
    logger.info({ agent: id, executor: body.executor, resources: body.resources }, 'agent registered');
    this.deps.onCapacityChanged?.();
    return { heartbeatIntervalMs: this.deps.timings.heartbeatIntervalMs, known: await tasks.knownOn(id), at: now };
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
  async heartbeat(id: string, running: LeaseRef[], listedAfter: number | undefined, images?: AgentImages): Promise<HeartbeatResponse> {
    const { db, clock, tasks } = this.deps;
    await this.requireAlive(id);
    const now = clock.now();
    await agentRepository.update(db, id, { lastHeartbeatAt: now, ...(images === undefined ? {} : { images }) });
    if (images !== undefined) await this.noteImages(id, images);
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
   * Whether any agent could run `image` (normalised) without pulling: present when one has it or
   * runs any image, absent when agents are known and none has it, unknown when none is known yet.
   */
  async whereIs(image: string): Promise<'present' | 'absent' | 'unknown'> {
    const index = await this.imageIndex();
    if (index.size === 0) return 'unknown';
    for (const images of index.values()) if (images === null || images.has(image)) return 'present';
    return 'absent';
  }

  private imageIndex(): Promise<Map<string, Set<string> | null>> {
    this.images ??= agentRepository
      .list(this.deps.db)
      .then((agents) => new Map(agents.map((a) => [a.id, a.images === null ? null : new Set(a.images)])));
    return this.images;
  }

  private async noteImages(id: string, images: AgentImages): Promise<void> {
    (await this.imageIndex()).set(id, images === null ? null : new Set(images.map(normalizeImage)));
  }

  async list(): Promise<Agent[]> {
    const [agents, held] = [await agentRepository.list(this.deps.db), await this.deps.tasks.activeByAgent()];
    return agents.map((agent) => toAgent(agent, held.get(agent.id) ?? []));
  }

  /** Every agent's state, switch and resources (metrics count them by status). */
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
      await agentRepository.update(db, agent.id, { state: 'lost' });
      logger.warn({ agent: agent.id }, 'agent stopped heartbeating; marked lost');
      for (const task of await tasks.activeOnAgent(agent.id)) {
        const message = `agent ${agent.id} stopped responding`;
        const neverAcknowledged = task.state === 'ASSIGNED' && task.lease_acked_at === null;
        await settle(task.id, logger, () => (neverAcknowledged ? tasks.release(task, message) : tasks.finishRun(task, 'LOST', { message })));
      }
    }
  }
}

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
