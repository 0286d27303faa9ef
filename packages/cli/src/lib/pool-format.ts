import type { PoolView } from '@trainyard/shared';
import { renderTable } from './table.js';

const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(1);
const count = (n: number) => String(Math.round(n * 100) / 100);

/** "45s", "3m 05s", "2h 10m", "3d 4h": how long the oldest queued task has waited. */
export function formatWait(seconds: number | null): string {
  if (seconds === null) return '';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** A Slurm pool's own figure: what Slurm has allocated in the partition, to anyone's jobs. */
const engineAllocated = (p: PoolView) =>
  p.engine === null ? '-' : p.engine.problem !== null ? 'unknown' : `cpu ${count(p.engine.allocated.cpu)}/${count(p.capacity.cpu)}, gpus ${p.engine.allocated.gpus}/${p.capacity.gpus}`;

/**
 * One line per pool: what its tasks hold against what it has (used/capacity), and its queue. Where a
 * pool is a Slurm partition, two more columns: what Slurm has allocated there (everyone's jobs, not only
 * Trainyard's) and how many of the pool's tasks wait in Slurm's own queue.
 */
export function poolsTable(pools: PoolView[]): string {
  const engines = pools.some((p) => p.engine !== null);
  return renderTable(pools, [
    { header: 'NAME', get: (p) => p.name },
    { header: 'MANAGER', get: (p) => p.manager },
    { header: 'DEFAULT', get: (p) => (p.default ? 'yes' : '') },
    { header: 'NODES', get: (p) => p.nodes },
    { header: 'CPU', get: (p) => `${count(p.use.cpu)}/${count(p.capacity.cpu)}` },
    { header: 'MEMORY (GiB)', get: (p) => `${gib(p.use.memory)}/${gib(p.capacity.memory)}` },
    { header: 'GPUS', get: (p) => `${p.use.gpus}/${p.capacity.gpus}` },
    { header: 'TASKS', get: (p) => p.use.tasks },
    { header: 'QUEUED', get: (p) => p.queue.length },
    { header: 'OLDEST WAIT', get: (p) => formatWait(p.queue.oldestWaitSeconds) },
    ...(engines
      ? [
          { header: 'SLURM ALLOCATED', get: engineAllocated },
          { header: 'IN SLURM QUEUE', get: (p: PoolView) => (p.engine === null ? '-' : p.engine.pending) },
        ]
      : []),
  ]);
}

/** Why a pool's engine gave no figures, one line per pool (stderr under the table). */
export function poolProblems(pools: PoolView[]): string[] {
  return pools.flatMap((p) => (p.engine?.problem ? [`pool ${p.name}: ${p.engine.problem}`] : []));
}
