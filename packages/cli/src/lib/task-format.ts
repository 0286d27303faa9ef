import type { RunSpec, Task, TaskPlan, TaskSummary } from '@trainyard/shared';
import { DEFAULT_POOL, describeIdentitySource, describeKillRequest, displayState, explainPendingReason, formatByteSize, isTerminal } from '@trainyard/shared/constants';
import { paint, stateStyle, type Style } from './colour.js';
import { escapeText } from './escape.js';
import { formatIdentity } from './format.js';
import type { View } from './output.js';

/** "2026-11-23 06:40:01" in local time: compact and sortable. */
export function formatTime(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export const runAs = (t: TaskSummary) => `${t.runAs.user}:${t.runAs.group} (${t.runAs.uid}:${t.runAs.gid})`;

/** Every list of tasks: `yard task list`, `experiment list`... */
export const tasksView: View<TaskSummary> = {
  name: (t) => t.id,
  columns: [
    { header: 'ID', field: 'id', get: (t) => t.id },
    { header: 'OWNER', field: 'owner', get: (t) => t.owner },
    { header: 'GROUP', field: 'group', get: (t) => t.group, wide: true },
    { header: 'KIND', field: 'kind', get: (t) => t.kind },
    // KILLING while a kill is under way (the stored state stays until the agent reports it stopped).
    { header: 'STATE', field: 'state', get: displayState, style: (t) => stateStyle(displayState(t)) },
    { header: 'NAME', field: 'name', get: (t) => t.name },
    { header: 'RUN AS', field: 'runAs', get: runAs },
    // A POOL column once pools are in use (a task outside `default`): a single-pool cluster's lists stay as they were.
    { header: 'POOL', field: 'pool', get: (t) => t.pool, when: (tasks) => tasks.some((t) => t.pool !== DEFAULT_POOL) },
    { header: 'AGENT', field: 'agent', get: (t) => t.agent },
    { header: 'CREATED', field: 'createdAt', get: (t) => formatTime(t.createdAt), raw: (t) => t.createdAt, wide: true },
    { header: 'STARTED', field: 'startedAt', get: (t) => formatTime(t.startedAt), raw: (t) => t.startedAt },
    { header: 'ENDED', field: 'endedAt', get: (t) => formatTime(t.endedAt), raw: (t) => t.endedAt, wide: true },
    { header: 'EXIT CODE', field: 'exitCode', get: (t) => t.exitCode, wide: true },
    { header: 'RESTARTS', field: 'restarts', get: (t) => t.restarts, wide: true },
    // Why a queued task waits (QUOTA_RUNNING_USER, NO_AGENT_FITS...): last, so the columns before keep their places.
    { header: 'REASON', field: 'pendingReason', get: (t) => t.pendingReason },
  ],
};

/** A value in a style of its own (a state), escaped like the rest and then coloured. */
type Styled = { text: string; style: Style | undefined };
type Rows = Array<[string, string | number | null | undefined | Styled]>;

const killing = (task: TaskSummary) => task.killRequest !== null && !isTerminal(task.state);

export function describeTask(task: Task, colour = false): string {
  const c = task.config;
  return renderRows([
    ['ID', task.id],
    ['Kind', task.kind],
    ['Name', task.name],
    ['Owner', task.owner],
    ['Group', task.group],
    ['Pool', task.pool],
    ['State', { text: killing(task) ? `${displayState(task)} (${task.state} until its agent reports it stopped${task.killRequest?.preempt ? '; then it is queued again' : ''})` : task.state, style: stateStyle(displayState(task)) }],
    ...(task.pendingReason ? [['Waiting for', `${task.pendingReason}: ${explainPendingReason(task.pendingReason)}`] as [string, string]] : []),
    ...(task.killRequest
      ? [[task.killRequest.preempt ? 'Preempted' : 'Kill asked by', `${describeKillRequest(task.killRequest)} at ${formatTime(task.killRequest.at)}`] as [string, string]]
      : []),
    ...(task.message ? [['Message', task.message] as [string, string]] : []),
    ['Agent', task.agent],
    ...(task.placement ? [['Placement', task.placement] as [string, string]] : []),
    ['Exit code', task.exitCode],
    ['Restarts', `${task.restarts} of ${c.max_restarts}`],
    ['Priority', `${task.priority} (in its owner's own queue)`],
    ['Preemptible', task.preemptible ? `yes${task.preemptions > 0 ? ` (preempted ${task.preemptions} time${task.preemptions === 1 ? '' : 's'})` : ''}` : 'no (--no-preempt: it never borrows)'],
    ['Created', formatTime(task.createdAt)],
    ['Started', formatTime(task.startedAt)],
    ['Ended', formatTime(task.endedAt)],
    ...runSpecRows(task.runSpec),
    ...(c.experiment_ids ? [['Experiments', c.experiment_ids.join(', ')] as [string, string]] : []),
    ...(c.description ? [['Description', c.description] as [string, string]] : []),
  ], colour);
}

/** `--dry-run`: what would run, and nothing was created. */
export function describePlan(plan: TaskPlan): string {
  return renderRows([
    ['Kind', plan.kind],
    ['Name', plan.name],
    ['Owner', plan.owner],
    ['Group', plan.group],
    ['Pool', plan.pool],
    ...runSpecRows(plan.runSpec),
  ]);
}

/** What the agent executes: identity with where each part came from, image, mounts, resources, ports, confinement. */
function runSpecRows(spec: RunSpec): Rows {
  const s = spec.identitySources;
  const source = (field: keyof RunSpec['identitySources']) => describeIdentitySource(s[field]);
  const sameSource = s.uid === s.user && s.uid === s.gid && s.uid === s.group;
  const identity = sameSource ? source('uid') : `uid: ${source('uid')}, user: ${source('user')}, gid: ${source('gid')}, group: ${source('group')}`;
  const { resources: r } = spec;
  const rows: Rows = [
    ['Runs as', formatIdentity(spec.runAs)],
    ['Identity from', identity],
    ...(spec.runAs.supplementaryGroups.length > 0
      ? [['Groups', `${spec.runAs.supplementaryGroups.map((g) => `${g.name} (${g.gid})`).join(', ')} [from ${source('supplementaryGroups')}]`] as [string, string]]
      : []),
    ['Image', `${spec.image} (pull: ${spec.pull})`],
    ['Entrypoint', JSON.stringify(spec.entrypoint)],
    ['Resources', [`gpus=${r.gpus}`, r.cpu ? `cpu=${r.cpu}` : '', r.memory ? `memory=${formatByteSize(r.memory)}` : ''].filter(Boolean).join(' ')],
    ...spec.bindMounts.map((m, i): [string, string] => [
      i === 0 ? 'Bind mounts' : '',
      `${m.hostPath} -> ${m.containerPath}${m.readOnly ? ' (ro)' : ''} [${m.source === 'task' ? `admitted by ${m.rule}` : `added by ${m.rule}`}]`,
    ]),
    ...(spec.sharedDirs ?? []).map((d, i): [string, string] => [
      i === 0 ? 'Shared dirs' : '',
      `<shared_root>/${d.group} -> ${d.containerPath} (group ${d.gid}, setgid, umask ${spec.umask ?? 'of the image'}) [group ${d.group}]`,
    ]),
    ['Environment', Object.keys(spec.environment).sort().join(', ')],
    ['Ports', spec.ports.map((p) => `${p.container}${p.name ? ` (${p.name})` : ''}`).join(', ')],
    ['Capabilities', spec.confinement.capabilities.length > 0 ? `all dropped but ${spec.confinement.capabilities.join(', ')}` : 'all dropped'],
  ];
  return rows;
}

function renderRows(rows: Rows, colour = false): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  const value = (v: Rows[number][1]): string => {
    if (typeof v === 'object' && v !== null) return paint(value(v.text), v.style, colour);
    return v === null || v === undefined || v === '' ? '-' : escapeText(String(v));
  };
  return rows.map(([k, v]) => `${(k ? `${k}:` : '').padEnd(width + 1)}  ${value(v)}`).join('\n');
}
