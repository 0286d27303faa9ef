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

/** One line per pool: what its tasks hold against what it has (used/capacity), and its queue. */
export function poolsTable(pools: PoolView[]): string {
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
  ]);
}
