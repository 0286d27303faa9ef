import type { Task, TaskSummary } from '@trainyard/shared';
import { escapeText } from './escape.js';
import { formatIdentity } from './format.js';
import { renderTable } from './table.js';

/** "2026-11-23 06:40:01" in local time: compact and sortable. */
export function formatTime(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export const runAs = (t: TaskSummary) => `${t.runAs.user}:${t.runAs.group} (${t.runAs.uid}:${t.runAs.gid})`;

export function tasksTable(tasks: TaskSummary[]): string {
  return renderTable(tasks, [
    { header: 'ID', get: (t) => t.id },
    { header: 'OWNER', get: (t) => t.owner },
    { header: 'KIND', get: (t) => t.kind },
    { header: 'STATE', get: (t) => t.state },
    { header: 'NAME', get: (t) => t.name },
    { header: 'RUN AS', get: runAs },
    { header: 'AGENT', get: (t) => t.agent },
    { header: 'STARTED', get: (t) => formatTime(t.startedAt) },
  ]);
}

export function describeTask(task: Task): string {
  const c = task.config;
  const rows: Array<[string, string | number | null | undefined]> = [
    ['ID', task.id],
    ['Kind', task.kind],
    ['Name', task.name],
    ['Owner', task.owner],
    ['State', task.state + (task.killRequested && task.state !== 'KILLED' ? ' (kill requested)' : '')],
    ['Runs as', formatIdentity(task.runAs)],
    ['Agent', task.agent],
    ['Exit code', task.exitCode],
    ['Restarts', `${task.restarts} of ${c.max_restarts}`],
    ['Created', formatTime(task.createdAt)],
    ['Started', formatTime(task.startedAt)],
    ['Ended', formatTime(task.endedAt)],
    ['Image', c.image],
    ['Entrypoint', JSON.stringify(c.entrypoint)],
    [
      'Resources',
      [`slots=${c.resources.slots}`, c.resources.cpu ? `cpu=${c.resources.cpu}` : '', c.resources.memory ? `memory=${c.resources.memory}` : '']
        .filter(Boolean)
        .join(' '),
    ],
    ...c.bind_mounts.map((m, i): [string, string] => [i === 0 ? 'Bind mounts' : '', `${m.host_path} -> ${m.container_path}${m.read_only ? ' (ro)' : ''}`]),
    ...(c.experiment_ids ? [['Experiments', c.experiment_ids.join(', ')] as [string, string]] : []),
    ...(c.description ? [['Description', c.description] as [string, string]] : []),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const value = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' ? '-' : escapeText(String(v)));
  return rows.map(([k, v]) => `${(k ? `${k}:` : '').padEnd(width + 1)}  ${value(v)}`).join('\n');
}
