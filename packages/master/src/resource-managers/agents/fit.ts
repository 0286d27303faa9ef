import type { AgentResources, ExecutorName, RunPort, RunResources } from '@trainyard/shared';

export interface Capacity {
  gpus: number;
  cpu: number;
  memory: number;
}

/** What an agent has left once the tasks it holds are counted. */
export function freeCapacity(agent: AgentResources, held: RunResources[]): Capacity {
  const free: Capacity = { gpus: agent.gpus.length, cpu: agent.cpus, memory: agent.memoryBytes };
  for (const r of held) {
    free.gpus -= r.gpus;
    free.cpu -= r.cpu ?? 0;
    free.memory -= r.memory ?? 0;
  }
  return free;
}

/** A task fits when each resource it asks for is free; cpu and memory left unset ask for nothing. */
export function fits(request: RunResources, free: Capacity): boolean {
  return request.gpus <= free.gpus && (request.cpu ?? 0) <= free.cpu && (request.memory ?? 0) <= free.memory;
}

/**
 * The process executor runs every task on the machine's own network: two tasks serving the same
 * port cannot both listen there, so a task whose port a held task serves waits for another agent
 * (or for that task to end). In containers each task has its own network: any ports fit.
 */
export function portsFree(executor: ExecutorName, request: RunPort[], held: RunPort[][]): boolean {
  if (executor !== 'process' || request.length === 0) return true;
  const taken = new Set(held.flat().map((p) => p.container));
  return request.every((p) => !taken.has(p.container));
}
