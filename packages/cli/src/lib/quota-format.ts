import type { QueueEntry, Quota, QuotaUsage, QuotaUsageLine, QueueView } from '@trainyard/shared';
import { DEFAULT_POOL, formatQuotaLimits, formatUsageAmount } from '@trainyard/shared/constants';
import { yesNo } from './format.js';
import { guaranteesTable } from './guarantee-format.js';
import type { View } from './output.js';
import { renderTable } from './table.js';
import { formatTime } from './task-format.js';

const holders = (q: Quota) => q.assignments.map((a) => (a.user !== null ? a.user : `group:${a.group}`)).join(', ');

export const quotasView: View<Quota> = {
  name: (q) => q.name,
  columns: [
    { header: 'NAME', field: 'name', get: (q) => q.name },
    { header: 'LIMITS', get: formatQuotaLimits },
    { header: 'DENY ON LIMIT', field: 'denyOnLimit', get: (q) => yesNo(q.denyOnLimit), raw: (q) => q.denyOnLimit },
    { header: 'ASSIGNED TO', field: 'assignments', get: holders },
  ],
};

export function describeQuota(q: Quota): string {
  return [`Quota ${q.name}: ${formatQuotaLimits(q) || 'no limits'}${q.denyOnLimit ? ' (deny_on_limit: refuses instead of queueing)' : ''}`, `Assigned to: ${holders(q) || '-'}`].join('\n');
}

/** One row of `yard quota show`: a quota covering the user or group, and one of its resources. */
export interface UsageRow {
  quota: string;
  via: string;
  resource: QuotaUsageLine['resource'];
  used: number | null;
  limit: number;
  /** `per user`, or a budget's window (`30d`, `month`). */
  scope: string | undefined;
  denyOnLimit: boolean;
}

export const usageRows = (usage: QuotaUsage): UsageRow[] =>
  usage.quotas.flatMap((q) => q.lines.map((line) => ({ quota: q.quota, via: q.via, resource: line.resource, used: line.used, limit: line.limit, scope: line.scope, denyOnLimit: q.denyOnLimit })));

export function usageView(usage: QuotaUsage): View<UsageRow> {
  const line = (r: UsageRow): QuotaUsageLine => ({ resource: r.resource, used: r.used, limit: r.limit });
  return {
    name: (r) => r.quota,
    columns: [
      { header: 'QUOTA', field: 'quota', get: (r) => r.quota },
      { header: 'VIA', field: 'via', get: (r) => r.via },
      { header: 'RESOURCE', field: 'resource', get: (r) => (r.scope ? `${r.resource} (${r.scope})` : r.resource), raw: (r) => r.resource },
      { header: 'SCOPE', field: 'scope', get: (r) => r.scope, wide: true },
      { header: 'USED', field: 'used', get: (r) => formatUsageAmount(line(r), r.used), raw: (r) => r.used },
      { header: 'LIMIT', field: 'limit', get: (r) => formatUsageAmount(line(r), r.limit) + (r.denyOnLimit ? ' (deny)' : ''), raw: (r) => r.limit },
    ],
  };
}

/** `yard quota show`: each quota covering the user or group, used and limit per resource. */
export function usageTable(usage: QuotaUsage, colour = false): string {
  const who = usage.user !== null ? `user ${usage.user}` : `group ${usage.group}`;
  const rows = usageRows(usage);
  const parts = [rows.length === 0 ? `No quota covers ${who}.` : renderTable(rows, usageView(usage).columns.filter((c) => !c.wide), colour)];
  if (usage.fairShare) {
    const f = usage.fairShare;
    parts.push(`Fair-share usage of ${who} (decayed): ${Math.round(f.cpuSeconds)} CPU-seconds, ${Math.round(f.gpuSeconds)} GPU-seconds (score ${Math.round(f.score)})`);
  }
  if (usage.guarantees.length > 0) parts.push(`Guarantees:\n${guaranteesTable(usage.guarantees)}`);
  return parts.join('\n\n');
}

export const queueView: View<QueueEntry> = {
  name: (i) => i.id,
  columns: [
    // Each pool has its own queue (# counts within it): a POOL column once pools are in use.
    { header: 'POOL', field: 'pool', get: (i) => i.pool, when: (items) => items.some((i) => i.pool !== DEFAULT_POOL) },
    { header: '#', field: 'position', get: (i) => i.position },
    { header: 'ID', field: 'id', get: (i) => i.id },
    { header: 'OWNER', field: 'owner', get: (i) => i.owner },
    { header: 'GROUP', field: 'group', get: (i) => i.group },
    { header: 'USAGE', field: 'usage', get: (i) => i.usage },
    // PRIO once anyone ordered their own queue; PREEMPT once a task may not be preempted.
    { header: 'PRIO', field: 'priority', get: (i) => i.priority, when: (items) => items.some((i) => i.priority !== 0) },
    { header: 'PREEMPT', field: 'preemptible', get: (i) => (i.preemptible ? 'yes' : 'no'), raw: (i) => i.preemptible, when: (items) => items.some((i) => !i.preemptible) },
    { header: 'CREATED', field: 'createdAt', get: (i) => formatTime(i.createdAt), raw: (i) => i.createdAt },
    { header: 'NAME', field: 'name', get: (i) => i.name },
    { header: 'REASON', field: 'pendingReason', get: (i) => i.pendingReason },
  ],
};

export function queueTable(view: QueueView, colour = false): string {
  const head = `Policy: ${view.policy}${view.policy === 'fair_share' ? ' (groups, then people in them, with less recent usage against their share first; then the oldest)' : ' (oldest first)'}`;
  const guarantees = view.guarantees.length > 0 ? `\n\nGuarantees:\n${guaranteesTable(view.guarantees)}` : '';
  if (view.items.length === 0) return `${head}\n\nThe queue is empty.${guarantees}`;
  return `${head}\n\n${renderTable(view.items, queueView.columns.filter((c) => !c.when || c.when(view.items)), colour)}${guarantees}`;
}
