import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { crashPoint, ONE_SHOT_LABEL, SHARED_ROOT_LABEL, type RunPort, type RunSpec, type WhyPlacement } from '@trainyard/shared';
import type { AgentRecord } from '../../agents/agent-repository.js';
import type { AgentService } from '../../agents/agent-service.js';
import type { Clock } from '../../clock.js';
import type { TaskRow } from '../../db/schema.js';
import type { TunnelBroker } from '../../interactive/tunnel-broker.js';
import { runSpecOf } from '../../tasks/task-mapper.js';
import type { TaskService } from '../../tasks/task-service.js';
import type { Candidate, Dispatcher, ExecTarget, LiveRun, Opening, PlaceResult, PoolCapacity, ResourceManager } from '../resource-manager.js';
import type { AgentChannel, WorkSource } from './agent-channel.js';
import { fits, freeCapacity, portsFree, type Capacity } from './fit.js';

/**
 * A pool of Trainyard's own agents (`manager: agents`): the agents that joined it long-poll the
 * master (`AgentChannel`); when one asks for work, it is an opening for one task that fits its
 * free room, its images, its shared root and, on the process executor, its free ports. Leases it
 * hands out must be acknowledged within `lease_timeout` (`reconcile` sends expired ones back to
 * the queue); what runs is reconciled with the agents at their registration and heartbeats (the
 * agents domain), and kills and connections reach them through their poll.
 */
export class AgentsManager implements ResourceManager, WorkSource {
  readonly kind = 'agents' as const;
  private dispatcher: Dispatcher | undefined;
  /**
   * The last decision found every queued task held back by a quota: nothing any agent could take,
   * so an offer is not passed round the other agents (a quota frees room when a run ends, which
   * offers work again).
   */
  private heldByQuotas = false;

  constructor(
    readonly pool: string,
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      tasks: TaskService;
      agents: Pick<AgentService, 'list' | 'whereIs' | 'records'>;
      channel: AgentChannel;
      broker: TunnelBroker;
      leaseTimeoutMs: number;
    },
  ) {}

  async start(dispatcher: Dispatcher): Promise<void> {
    this.dispatcher = dispatcher;
    this.deps.channel.serve(this.pool, this);
  }

  /** Agents run every spec admission and the floor let through. */
  refuse(): string | null {
    return null;
  }

  whereIs(image: string): Promise<'present' | 'absent' | 'unknown'> {
    return this.deps.agents.whereIs(image, this.pool);
  }

  /** Any agent (with a valid token) may join an agents pool. */
  admitAgent(): string | null {
    return null;
  }

  workQueued(): void {
    this.deps.channel.offer(this.pool);
  }

  /** The agent holding the lease hears of it at once (its poll is answered with the kill). */
  kill(task: TaskRow): void {
    if (task.agent_id) this.deps.channel.wake(task.agent_id);
  }

  async take(agent: AgentRecord): Promise<TaskRow | undefined> {
    const result = await this.dispatcher!.dispatch(this.pool, this.opening(agent));
    this.heldByQuotas = result.heldByQuotas;
    return result.placed[0];
  }

  async passOn(): Promise<boolean> {
    return !this.heldByQuotas && (await this.dispatcher!.hasWork(this.pool));
  }

  /**
   * The agent asking for work, as an opening for one task. Its free room is read at the first
   * candidate, inside the scheduler's dispatch section, where nothing else assigns.
   */
  private opening(agent: AgentRecord): Opening {
    let room: Promise<{ free: Capacity; heldPorts: RunPort[][] }> | undefined;
    return {
      limit: 1,
      place: async ({ task, spec }: Candidate): Promise<PlaceResult> => {
        room ??= this.room(agent);
        const { free, heldPorts } = await room;
        const fitsHere = fits(spec.resources, free) && hasImage(agent, spec) && hasSharedRoot(agent, spec) && portsFree(agent.executor, spec.ports, heldPorts);
        if (!fitsHere) return { pending: 'NO_AGENT_FITS' };
        crashPoint('master:before-assign');
        const assigned = await this.deps.tasks.assign(task, agent.id);
        if (!assigned) return { gone: true };
        this.deps.logger.info({ taskId: task.id, agent: agent.id, leaseId: assigned.lease_id }, 'task assigned');
        crashPoint('master:after-assign');
        return { placed: assigned };
      },
    };
  }

  private async room(agent: AgentRecord): Promise<{ free: Capacity; heldPorts: RunPort[][] }> {
    const heldSpecs = (await this.deps.tasks.activeOnAgent(agent.id)).map((t) => runSpecOf(t));
    return { free: freeCapacity(agent.resources, heldSpecs.map((s) => s.resources)), heldPorts: heldSpecs.map((s) => s.ports) };
  }

  /** Assignments nobody acknowledged in time go back to the queue (the agent never started them). */
  async reconcile(): Promise<void> {
    const { clock, tasks, logger } = this.deps;
    const expired = await tasks.unacknowledgedSince(this.pool, clock.now() - this.deps.leaseTimeoutMs);
    for (const task of expired) {
      const reason = `agent ${task.agent_id} did not take the task in time`;
      if (await tasks.release(task, reason)) logger.warn({ taskId: task.id, agent: task.agent_id }, `${reason}; back to the queue`);
    }
  }

  /** The task's agent dials back a connection to its port (see TunnelBroker). */
  connect(run: LiveRun, port: number): Promise<Duplex> {
    return this.deps.broker.open(run.agentId, { id: run.taskId, leaseId: run.leaseId }, { kind: 'port', port });
  }

  exec(run: LiveRun, target: ExecTarget): Promise<WebSocket> {
    return this.deps.broker.open(run.agentId, { id: run.taskId, leaseId: run.leaseId }, target);
  }

  /** The pool's agents that may take work (alive and enabled), added up. */
  async capacity(): Promise<PoolCapacity> {
    // A one-shot agent runs one task of a job's allocation (a Slurm pool's): never capacity of an agents pool.
    const agents = (await this.deps.agents.list()).filter((a) => a.pool === this.pool && a.labels[ONE_SHOT_LABEL] === undefined);
    const serving = agents.filter((a) => a.state === 'alive' && a.enabled);
    const capacity = { cpu: 0, memory: 0, gpus: 0 };
    for (const agent of serving) {
      capacity.cpu += agent.resources.cpus;
      capacity.memory += agent.resources.memoryBytes;
      capacity.gpus += agent.resources.gpus.length;
    }
    return { capacity, nodes: serving.length, details: { agents: agents.map((a) => a.id) } };
  }

  /** Each agent of the pool, and whether `spec` fits there now (its free room, images, shared root, ports). */
  async explain(spec: RunSpec): Promise<WhyPlacement[]> {
    const agents = (await this.deps.agents.records()).filter((a) => a.pool === this.pool);
    const placements: WhyPlacement[] = [];
    for (const record of agents) {
      const agent = record;
      if (agent.state !== 'alive') {
        placements.push({ node: agent.id, fits: false, why: `the agent is ${agent.state}` });
        continue;
      }
      if (!agent.enabled) {
        placements.push({ node: agent.id, fits: false, why: 'the agent is disabled (yard agent enable)' });
        continue;
      }
      const { free, heldPorts } = await this.room(record);
      const r = spec.resources;
      const short: string[] = [];
      if (r.gpus > free.gpus) short.push(`${Math.max(0, free.gpus)} of ${record.resources.gpus.length} GPUs free, it asks ${r.gpus}`);
      if ((r.cpu ?? 0) > free.cpu) short.push(`${round(Math.max(0, free.cpu))} of ${record.resources.cpus} CPUs free, it asks ${r.cpu}`);
      if ((r.memory ?? 0) > free.memory) short.push(`${Math.max(0, Math.floor(free.memory / 2 ** 20))} MiB of memory free, it asks ${Math.ceil((r.memory ?? 0) / 2 ** 20)} MiB`);
      if (!hasImage(record, spec)) short.push(`it does not have the image ${spec.image} (and the policy lets no agent pull it)`);
      if (!hasSharedRoot(record, spec)) short.push('it has no --shared-root for the group directories the task mounts');
      if (!portsFree(record.executor, spec.ports, heldPorts)) short.push('a task it runs already serves the same port (process executor)');
      placements.push({ node: agent.id, fits: short.length === 0, why: short.length === 0 ? null : short.join('; ') });
    }
    return placements;
  }

  async close(): Promise<void> {
    // The channel, shared by every pool's agents, is closed by the pools registry.
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

/** A task that may not pull goes only to an agent that has its image (or runs any; or never said which it has). */
const hasImage = (agent: AgentRecord, spec: RunSpec) => spec.pull !== 'never' || agent.images === null || agent.images.includes(spec.image);

/** A task that mounts a group's shared directory goes only to an agent with a --shared-root. */
const hasSharedRoot = (agent: AgentRecord, spec: RunSpec) => !spec.sharedDirs?.length || agent.labels[SHARED_ROOT_LABEL] === 'yes';
