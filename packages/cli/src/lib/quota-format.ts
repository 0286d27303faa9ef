import type { Quota, QuotaUsage, QueueView } from '@trainyard/shared';
import { DEFAULT_POOL, formatQuotaLimits, formatUsageAmount } from '@trainyard/shared/constants';
import { yesNo } from './format.js';
import { guaranteesTable } from './guarantee-format.js';
import { renderTable } from './table.js';
import { formatTime } from './task-format.js';

const holders = (q: Quota) => q.assignments.map((a) => (a.user !== null ? a.user : `group:${a.group}`)).join(', ');

export function quotasTable(quotas: Quota[]): string {
  return renderTable(quotas, [
    { header: 'NAME', get: (q) => q.name },
    { header: 'LIMITS', get: formatQuotaLimits },
    { header: 'DENY ON LIMIT', get: (q) => yesNo(q.denyOnLimit) },
    { header: 'ASSIGNED TO', get: holders },
  ]);
}

export function describeQuota(q: Quota): string {
  return [`Quota ${q.name}: ${formatQuotaLimits(q) || 'no limits'}${q.denyOnLimit ? ' (deny_on_limit: refuses instead of queueing)' : ''}`, `Assigned to: ${holders(q) || '-'}`].join('\n');
}

/** `yard quota show`: each quota covering the user or group, used and limit per resource. */
export function usageTable(usage: QuotaUsage): string {
  const who = usage.user !== null ? `user ${usage.user}` : `group ${usage.group}`;
  const rows = usage.quotas.flatMap((q) => q.lines.map((line) => ({ q, line })));
  const parts = [
    rows.length === 0
      ? `No quota covers ${who}.`
      : renderTable(rows, [
          { header: 'QUOTA', get: (r) => r.q.quota },
          { header: 'VIA', get: (r) => r.q.via },
          { header: 'RESOURCE', get: (r) => (r.line.scope ? `${r.line.resource} (${r.line.scope})` : r.line.resource) },
          { header: 'USED', get: (r) => formatUsageAmount(r.line, r.line.used) },
          { header: 'LIMIT', get: (r) => formatUsageAmount(r.line, r.line.limit) + (r.q.denyOnLimit ? ' (deny)' : '') },
        ]),
  ];
  if (usage.fairShare) {
    const f = usage.fairShare;
    parts.push(`Fair-share usage of ${who} (decayed): ${Math.round(f.cpuSeconds)} CPU-seconds, ${Math.round(f.gpuSeconds)} GPU-seconds (score ${Math.round(f.score)})`);
  }
  if (usage.guarantees.length > 0) parts.push(`Guarantees:\n${guaranteesTable(usage.guarantees)}`);
  return parts.join('\n\n');
}

export function queueTable(view: QueueView): string {
  const head = `Policy: ${view.policy}${view.policy === 'fair_share' ? ' (groups, then people in them, with less recent usage against their share first; then the oldest)' : ' (oldest first)'}`;
  const guarantees = view.guarantees.length > 0 ? `\n\nGuarantees:\n${guaranteesTable(view.guarantees)}` : '';
  if (view.items.length === 0) return `${head}\n\nThe queue is empty.${guarantees}`;
  type Item = QueueView['items'][number];
  // Each pool has its own queue (# counts within it): a POOL column once pools are in use.
  const pools = view.items.some((i) => i.pool !== DEFAULT_POOL) ? [{ header: 'POOL', get: (i: Item) => i.pool }] : [];
  // PRIO once anyone ordered their own queue; PREEMPT once a task may not be preempted.
  const priority = view.items.some((i) => i.priority !== 0) ? [{ header: 'PRIO', get: (i: Item) => i.priority }] : [];
  const preempt = view.items.some((i) => !i.preemptible) ? [{ header: 'PREEMPT', get: (i: Item) => (i.preemptible ? 'yes' : 'no') }] : [];
  return `${head}\n\n${renderTable(view.items, [
    ...pools,
    { header: '#', get: (i) => i.position },
    { header: 'ID', get: (i) => i.id },
    { header: 'OWNER', get: (i) => i.owner },
    { header: 'GROUP', get: (i) => i.group },
    { header: 'USAGE', get: (i) => i.usage },
    ...priority,
    ...preempt,
    { header: 'CREATED', get: (i) => formatTime(i.createdAt) },
    { header: 'NAME', get: (i) => i.name },
    { header: 'REASON', get: (i) => i.pendingReason },
  ])}${guarantees}`;
}
