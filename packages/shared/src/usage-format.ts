/**
 * Usage reports without zod, for clients that start fast or run in the browser (the web UI imports
 * it through `@trainyard/shared/constants`): the dimensions, period bounds, the CSV writer (the CLI's
 * `-o csv` and the web UI's download are the same file) and how waits read.
 */
import type { UsageAmounts, UsageReport } from './usage.js';

/** What a report can be broken down by. */
export const USAGE_DIMENSIONS = ['user', 'group', 'pool', 'kind'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

/**
 * How a run ended, in the ledger: a task's end, back to the queue after it ran (`REQUEUED`: a restart, a lost
 * agent with restarts left), or stopped to give borrowed capacity back and queued again (`PREEMPTED`).
 */
export const RUN_OUTCOMES = ['COMPLETED', 'FAILED', 'KILLED', 'LOST', 'REQUEUED', 'PREEMPTED'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

const RELATIVE = /^(\d{1,6}(?:\.\d{1,3})?)(s|m|h|d|w)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Epoch milliseconds for a period bound at `now`; undefined when it is not one. */
export function resolvePeriodBound(value: string, now: number): number | undefined {
  if (value === 'now') return now;
  const relative = RELATIVE.exec(value);
  if (relative) return now - Math.round(Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]);
  if (!DATE.test(value)) return undefined;
  const iso = value.length === 10 ? `${value}T00:00:00Z` : value.replace(' ', 'T');
  const millis = Date.parse(iso);
  return Number.isFinite(millis) ? millis : undefined;
}

/** Column headers of the CSV (and the CLI's table), in order; the keys come first. */
const AMOUNT_COLUMNS: Array<[keyof UsageAmounts, string]> = [
  ['tasks', 'tasks'],
  ['runs', 'runs'],
  ['running', 'running'],
  ['gpuHours', 'gpu_hours'],
  ['cpuHours', 'cpu_hours'],
  ['memoryGibHours', 'memory_gib_hours'],
  ['waitMedianSeconds', 'wait_median_s'],
  ['waitP95Seconds', 'wait_p95_s'],
];

/** A report as CSV (RFC 4180: quoted where needed, CRLF-free lines ending in \n), with the period on every line. */
export function usageCsv(report: UsageReport): string {
  const header = [...report.by, 'since', 'until', ...AMOUNT_COLUMNS.map(([, name]) => name)];
  const lines = report.rows.map((row) => [
    ...report.by.map((d) => row[d] ?? ''),
    report.since,
    report.until,
    ...AMOUNT_COLUMNS.map(([key]) => csvNumber(row[key])),
  ]);
  return [header, ...lines].map((cells) => cells.map((c) => csvCell(String(c))).join(',')).join('\n') + '\n';
}

const csvNumber = (value: number | null) => (value === null ? '' : Number.isInteger(value) ? String(value) : value.toFixed(6));

/** Quotes a cell that holds a comma, a quote or a line break; one that a spreadsheet would run as a formula gets a leading quote. */
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) && !/^-?\d/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Seconds as people read a wait: 45s, 12m, 3.5h. */
export function formatWait(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)}h`;
  return `${(seconds / 86400).toFixed(1)}d`;
}

