import type { Agent, AgentTokenInfo } from '@trainyard/shared';
import { DEFAULT_POOL } from '@trainyard/shared/constants';
import { renderTable } from './table.js';
import { formatTime } from './task-format.js';

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

export function agentsTable(agents: Agent[]): string {
  // A POOL column once some agent serves another pool than `default`.
  const pools = agents.some((a) => a.pool !== DEFAULT_POOL) ? [{ header: 'POOL', get: (a: Agent) => a.pool }] : [];
  return renderTable(agents, [
    { header: 'ID', get: (a) => a.id },
    ...pools,
    { header: 'STATE', get: (a) => (a.enabled ? a.state : `${a.state} (disabled)`) },
    { header: 'EXECUTOR', get: (a) => a.executor },
    { header: 'VERSION', get: (a) => a.version },
    { header: 'CPUS', get: (a) => a.resources.cpus },
    { header: 'MEMORY', get: (a) => gib(a.resources.memoryBytes) },
    { header: 'GPUS', get: (a) => (a.resources.gpus.length ? `${a.resources.gpus.length} (${a.resources.gpus[0]!.name})` : '0') },
    { header: 'TASKS', get: (a) => a.runningTasks.join(',') },
    { header: 'LAST SEEN', get: (a) => formatTime(a.lastHeartbeatAt) },
  ]);
}

export function agentTokensTable(tokens: AgentTokenInfo[]): string {
  return renderTable(tokens, [
    { header: 'NAME', get: (t) => t.name },
    { header: 'CREATED BY', get: (t) => t.createdBy ?? '(master.yaml)' },
    { header: 'CREATED', get: (t) => formatTime(t.createdAt) },
    { header: 'LAST USED', get: (t) => formatTime(t.lastUsedAt) },
    { header: 'REVOKED', get: (t) => formatTime(t.revokedAt) },
  ]);
}
