import type { TaskWhy, WhyCheck } from '@trainyard/shared';
import { explainPendingReason, formatByteSize } from '@trainyard/shared/constants';
import type { View } from './output.js';
import { renderTable } from './table.js';
import { formatTime } from './task-format.js';

const amount = (resource: string, value: number) => {
  if (!Number.isFinite(value)) return 'no limit';
  if (resource.startsWith('memory')) return formatByteSize(value);
  return String(Math.round(value * 100) / 100);
};

/** `yard why`'s rows (-o csv, name, --fields): every limit checked, holding or not. */
export const whyChecksView: View<WhyCheck> = {
  name: (c) => c.name,
  columns: [
    { header: 'LAYER', field: 'layer', get: (c) => c.layer.replace('_', '-'), raw: (c) => c.layer },
    { header: 'NAME', field: 'name', get: (c) => c.name },
    { header: 'COVERS', field: 'via', get: (c) => c.via },
    { header: 'RESOURCE', field: 'resource', get: (c) => c.resource },
    { header: 'USED', field: 'used', get: (c) => amount(c.resource, c.used), raw: (c) => c.used },
    { header: 'ASKS', field: 'ask', get: (c) => amount(c.resource, c.ask), raw: (c) => c.ask },
    { header: 'LIMIT', field: 'limit', get: (c) => amount(c.resource, c.limit), raw: (c) => c.limit },
    { header: 'HOLDS', field: 'holds', get: (c) => (c.holds ? 'yes' : 'no'), raw: (c) => c.holds },
    { header: 'NOTE', field: 'note', get: (c) => c.note },
  ],
};

/** `yard why ID`: every reason at once, every layer with used/limit, each machine, the queue ahead, the estimate. */
export function describeWhy(why: TaskWhy): string {
  const parts: string[] = [];
  const where = `task ${why.taskId} (${why.state} in pool ${why.pool})`;
  if (why.state !== 'QUEUED') {
    parts.push(`${where} is not waiting in the queue: ${why.estimate.basis.join('; ')}.`);
    if (why.reasons.length > 0) parts.push(`Its pool's engine holds it: ${why.reasons.join(', ')}`);
    return parts.join('\n');
  }
  if (why.reasons.length === 0) parts.push(`${where}: nothing holds it back; its turn has not come yet${why.queue.position ? ` (${why.queue.position} of ${why.queue.length} in its pool)` : ''}.`);
  else {
    parts.push(`${where} waits for ${why.reasons.length === 1 ? '1 reason' : `${why.reasons.length} reasons at once`}:`);
    const width = Math.max(...why.reasons.map((r) => r.length));
    for (const reason of why.reasons) parts.push(`  ${reason.padEnd(width)}  ${explainPendingReason(reason)}`);
  }
  if (why.checks.length > 0) {
    parts.push(
      '',
      renderTable(why.checks, whyChecksView.columns),
    );
  }
  if (why.placement.length > 0) {
    parts.push('', renderTable(why.placement, [
      { header: 'MACHINE', get: (p) => p.node },
      { header: 'FITS', get: (p) => (p.fits ? 'yes' : 'no') },
      { header: 'WHY NOT', get: (p) => p.why },
    ]));
  }
  const q = why.queue;
  parts.push(
    '',
    `Queue: ${q.position ?? '?'} of ${q.length} in pool ${why.pool} (${q.policy}${q.fairShareRank !== null ? `, fair-share rank ${q.fairShareRank}` : ''})`,
  );
  if (q.ahead.length > 0) parts.push(`Ahead of it: ${q.ahead.map((a) => `${a.id} (${a.owner}${a.group ? `, ${a.group}` : ''}${a.priority ? `, priority ${a.priority}` : ''})`).join(', ')}${q.position !== null && q.position - 1 > q.ahead.length ? `, and ${q.position - 1 - q.ahead.length} more` : ''}`);
  const e = why.estimate;
  parts.push(
    '',
    e.startAt === null
      ? `Estimated start: unknown (${e.basis.at(-1) ?? 'nothing to go by'})`
      : `Estimated start: ${formatTime(e.startAt)} ± ${e.errorSeconds} s (confidence ${e.confidence})`,
    ...e.basis.slice(0, e.startAt === null ? -1 : undefined).map((b) => `  - ${b}`),
  );
  return parts.join('\n');
}
