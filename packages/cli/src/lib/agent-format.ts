import type { Agent, AgentTokenInfo } from '@trainyard/shared';
import { DEFAULT_POOL } from '@trainyard/shared/constants';
import { agentStateStyle } from './colour.js';
import type { View } from './output.js';
import { formatTime } from './task-format.js';

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

export const agentsView: View<Agent> = {
  name: (a) => a.id,
  columns: [
    { header: 'ID', field: 'id', get: (a) => a.id },
    // A POOL column once some agent serves another pool than `default`.
    { header: 'POOL', field: 'pool', get: (a) => a.pool, when: (agents) => agents.some((a) => a.pool !== DEFAULT_POOL) },
    { header: 'STATE', field: 'state', get: (a) => (a.enabled ? a.state : `${a.state} (disabled)`), style: (a) => agentStateStyle(a.state, a.enabled) },
    { header: 'EXECUTOR', field: 'executor', get: (a) => a.executor },
    { header: 'VERSION', field: 'version', get: (a) => a.version },
    { header: 'CPUS', field: 'resources.cpus', get: (a) => a.resources.cpus },
    { header: 'MEMORY', field: 'resources.memoryBytes', get: (a) => gib(a.resources.memoryBytes), raw: (a) => a.resources.memoryBytes },
    { header: 'GPUS', field: 'resources.gpus', get: (a) => (a.resources.gpus.length ? `${a.resources.gpus.length} (${a.resources.gpus[0]!.name})` : '0') },
    { header: 'TASKS', field: 'runningTasks', get: (a) => a.runningTasks.join(',') },
    { header: 'LAST SEEN', field: 'lastHeartbeatAt', get: (a) => formatTime(a.lastHeartbeatAt), raw: (a) => a.lastHeartbeatAt },
    { header: 'LABELS', field: 'labels', get: (a) => Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(','), wide: true },
  ],
};

export const agentTokensView: View<AgentTokenInfo> = {
  name: (t) => t.name,
  columns: [
    { header: 'NAME', field: 'name', get: (t) => t.name },
    { header: 'CREATED BY', field: 'createdBy', get: (t) => t.createdBy ?? '(master.yaml)' },
    { header: 'CREATED', field: 'createdAt', get: (t) => formatTime(t.createdAt), raw: (t) => t.createdAt },
    { header: 'LAST USED', field: 'lastUsedAt', get: (t) => formatTime(t.lastUsedAt), raw: (t) => t.lastUsedAt },
    { header: 'REVOKED', field: 'revokedAt', get: (t) => formatTime(t.revokedAt), raw: (t) => t.revokedAt },
  ],
};
