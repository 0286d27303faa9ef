import type { Agent, AgentCapacity, ClusterHistory, ClusterOverview, ClusterSample, PoolCapacity, TaskState } from '@trainyard/shared';
import { resolvePeriodBound } from '@trainyard/shared';
import type { Actor } from '../authz/actor.js';
import { seesAgents } from '../authz/usage.js';
import { toIso, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import type { ClusterSampleRow, ClusterSamplesTable } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { poolOfAgent } from './pool-of.js';
import { usageRepository } from './usage-repository.js';
import type { Insertable } from 'kysely';

/** A task holding room on an agent (assigned, pulling or running), as the tasks domain reports it. */
export interface Allocation {
  agentId: string | null;
  owner: string;
  state: TaskState;
  pool: string;
  cpu: number;
  gpus: number;
  memory: number;
}

/** What the overview asks of the tasks and agents domains (their services). */
export interface ClusterSources {
  agents: { list(): Promise<Agent[]> };
  tasks: {
    allocations(): Promise<Allocation[]>;
    queueFacts(): Promise<{ length: number; oldestQueuedAt: number | null }>;
    stateCounts(): Promise<Partial<Record<TaskState, number>>>;
  };
}

const SAMPLE_EVERY_MS = 60_000;
const KEEP_SAMPLES_MS = 8 * 24 * 3_600_000;

/**
 * The cluster overview: each pool's capacity (agents alive and enabled) against what tasks hold of
 * it, the queue, running tasks by user; and the same sampled every minute (by the master's clock)
 * into `cluster_samples`, kept eight days, for the overview's charts of the last day.
 */
export class ClusterService {
  private lastSampleAt: number | undefined;

  constructor(private readonly deps: { db: Db; clock: Clock } & ClusterSources) {}

  async overview(actor: Actor): Promise<ClusterOverview> {
    const now = this.deps.clock.now();
    const [agents, allocations, queue, states] = await Promise.all([
      this.deps.agents.list(),
      this.deps.tasks.allocations(),
      this.deps.tasks.queueFacts(),
      this.deps.tasks.stateCounts(),
    ]);
    const perAgent = agents.map((agent) => agentCapacity(agent, allocations.filter((a) => a.agentId === agent.id)));
    const byUser = new Map<string, { user: string; tasks: number; cpu: number; gpus: number; memory: number }>();
    for (const a of allocations) {
      const entry = byUser.get(a.owner) ?? { user: a.owner, tasks: 0, cpu: 0, gpus: 0, memory: 0 };
      entry.tasks++;
      entry.cpu += a.cpu;
      entry.gpus += a.gpus;
      entry.memory += a.memory;
      byUser.set(a.owner, entry);
    }
    return {
      at: toIso(now),
      pools: pools(perAgent, allocations),
      agents: seesAgents(actor) ? perAgent : null,
      queue: {
        length: queue.length,
        oldestQueuedAt: queue.oldestQueuedAt === null ? null : toIso(queue.oldestQueuedAt),
        oldestWaitSeconds: queue.oldestQueuedAt === null ? null : Math.max(0, (now - queue.oldestQueuedAt) / 1000),
      },
      running: { tasks: allocations.length, byUser: [...byUser.values()].sort((a, b) => b.gpus - a.gpus || b.cpu - a.cpu || a.user.localeCompare(b.user)) },
      states,
    };
  }

  /** The samples of a period, oldest first, and one taken now when the period reaches now. */
  async history(request: { since: string; until: string }): Promise<ClusterHistory> {
    const now = this.deps.clock.now();
    const since = resolvePeriodBound(request.since, now)!;
    const until = resolvePeriodBound(request.until, now)!;
    if (since >= until) throw new DomainError('INVALID_INPUT', `since (${toIso(since)}) must be before until (${toIso(until)})`);
    const rows = await usageRepository.samples(this.deps.db, since, until);
    const live = until >= now ? await this.sample(now) : [];
    return { since: toIso(since), until: toIso(until), samples: [...rows, ...live].map(toSample) };
  }

  /** Called every second by the master's monitor: a sample per pool once a minute has passed (by the master's clock). */
  /** Several masters: this one leads from now on; another may have sampled meanwhile (read when the last sample was again). */
  leadershipBegan(): void {
    this.lastSampleAt = undefined;
  }

  async sampleIfDue(): Promise<void> {
    const now = this.deps.clock.now();
    this.lastSampleAt ??= (await usageRepository.lastSampleAt(this.deps.db)) ?? 0;
    if (now - this.lastSampleAt < SAMPLE_EVERY_MS) return;
    this.lastSampleAt = now;
    await usageRepository.insertSamples(this.deps.db, await this.sample(now));
    await usageRepository.pruneSamples(this.deps.db, now - KEEP_SAMPLES_MS);
  }

  private async sample(now: number): Promise<Array<Insertable<ClusterSamplesTable>>> {
    const [agents, allocations, queue] = await Promise.all([this.deps.agents.list(), this.deps.tasks.allocations(), this.deps.tasks.queueFacts()]);
    const perAgent = agents.map((agent) => agentCapacity(agent, allocations.filter((a) => a.agentId === agent.id)));
    const all = pools(perAgent, allocations);
    // The queue is not per pool yet (tasks name no pool): it is counted with the default pool, the first.
    return all.map((pool, i) => ({
      at: now,
      pool: pool.name,
      agents: pool.available,
      cpu_total: pool.capacity.cpu,
      cpu_allocated: pool.allocated.cpu,
      gpus_total: pool.capacity.gpus,
      gpus_allocated: pool.allocated.gpus,
      memory_total: pool.capacity.memory,
      memory_allocated: pool.allocated.memory,
      queued: i === 0 ? queue.length : 0,
      oldest_queued_at: i === 0 ? queue.oldestQueuedAt : null,
      running: allocations.filter((a) => a.pool === pool.name && a.state === 'RUNNING').length,
    }));
  }
}

function agentCapacity(agent: Agent, held: Allocation[]): AgentCapacity {
  const sum = (pick: (a: Allocation) => number) => held.reduce((total, a) => total + pick(a), 0);
  return {
    id: agent.id,
    pool: poolOfAgent(agent),
    state: agent.state,
    enabled: agent.enabled,
    capacity: { cpu: agent.resources.cpus, gpus: agent.resources.gpus.length, memory: agent.resources.memoryBytes },
    allocated: { cpu: sum((a) => a.cpu), gpus: sum((a) => a.gpus), memory: sum((a) => a.memory) },
    tasks: held.length,
  };
}

/** Capacity counts agents that take work (alive and enabled); allocation counts every task holding room. Always has `default`. */
function pools(agents: AgentCapacity[], allocations: Allocation[]): PoolCapacity[] {
  const names = [...new Set(['default', ...agents.map((a) => a.pool), ...allocations.map((a) => a.pool)])].sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)));
  return names.map((name) => {
    const members = agents.filter((a) => a.pool === name);
    const up = members.filter((a) => a.state === 'alive' && a.enabled);
    const held = allocations.filter((a) => a.pool === name);
    return {
      name,
      agents: members.length,
      available: up.length,
      capacity: {
        cpu: up.reduce((t, a) => t + a.capacity.cpu, 0),
        gpus: up.reduce((t, a) => t + a.capacity.gpus, 0),
        memory: up.reduce((t, a) => t + a.capacity.memory, 0),
      },
      allocated: {
        cpu: held.reduce((t, a) => t + a.cpu, 0),
        gpus: held.reduce((t, a) => t + a.gpus, 0),
        memory: held.reduce((t, a) => t + a.memory, 0),
      },
    };
  });
}

function toSample(row: ClusterSampleRow | Insertable<ClusterSamplesTable>): ClusterSample {
  return {
    at: toIso(row.at),
    pool: row.pool,
    agents: row.agents,
    cpuTotal: row.cpu_total,
    cpuAllocated: row.cpu_allocated,
    gpusTotal: row.gpus_total,
    gpusAllocated: row.gpus_allocated,
    memoryTotal: row.memory_total,
    memoryAllocated: row.memory_allocated,
    queued: row.queued,
    oldestWaitSeconds: row.oldest_queued_at === null || row.oldest_queued_at === undefined ? null : Math.max(0, (row.at - row.oldest_queued_at) / 1000),
    running: row.running,
  };
}
