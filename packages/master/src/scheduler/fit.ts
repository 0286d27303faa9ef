import type { AgentResources, Resources } from '@trainyard/shared';

export interface Capacity {
  slots: number;
  cpu: number;
  memory: number;
}

/** What an agent has left once the tasks it holds are counted. */
export function freeCapacity(agent: AgentResources, held: Resources[]): Capacity {
  const free: Capacity = { slots: agent.gpus.length, cpu: agent.cpus, memory: agent.memoryBytes };
  for (const r of held) {
    free.slots -= r.slots;
    free.cpu -= r.cpu ?? 0;
    free.memory -= r.memory ?? 0;
  }
  return free;
}

/** A task fits when each resource it asks for is free; cpu and memory left unset ask for nothing. */
export function fits(request: Resources, free: Capacity): boolean {
  return request.slots <= free.slots && (request.cpu ?? 0) <= free.cpu && (request.memory ?? 0) <= free.memory;
}
