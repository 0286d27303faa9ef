import { Flags } from '@oclif/core';
import type { UsageReport } from '@trainyard/shared';
import { formatWait, usageCsv } from '@trainyard/shared/constants';
import { targetUserBaseFlags, YardCommand } from '../base-command.js';
import { outputFlags, type View } from '../lib/output.js';
import { renderTable, type Column } from '../lib/table.js';

export default class Usage extends YardCommand<typeof Usage> {
  static override summary = 'Report GPU-, CPU- and memory-hours, task counts and waits per user, group, pool or kind over a period (like sreport).';
  static override description =
    "Read from the master's usage ledger: one row per run, written when it ends (a restarted task has several), kept when tasks " +
    'are deleted. Each run counts the part of it inside the period; runs still going count up to now. Waits (queued to started) ' +
    'are those of the runs that started in the period: the median and the 95th percentile. A run that asks no CPUs counts as one. ' +
    "You see your own usage; a group's (the runs charged to it) with see_status scoped to that group; everyone's with see_status.";
  static override examples = [
    '<%= config.bin %> usage',
    '<%= config.bin %> usage --since 30d --by user,group',
    '<%= config.bin %> usage --since 2025-05-01 --until 2025-06-01 --group research/vision -o csv > vision-may.csv',
    '<%= config.bin %> usage --since 1d --by user -o json',
  ];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override flags = {
    since: Flags.string({ summary: 'Start of the period: a duration back from now (30d, 12h), a date (2025-05-01) or a time (2025-05-01T12:00Z).', default: '30d' }),
    until: Flags.string({ summary: 'End of the period, written like --since.', default: 'now' }),
    by: Flags.string({ summary: 'Break the report down by these, comma-separated: user, group, pool, kind.', default: 'user' }),
    user: Flags.string({ summary: "Only this user's runs." }),
    group: Flags.string({ summary: 'Only the runs charged to this group (not its subgroups).' }),
    pool: Flags.string({ summary: 'Only the runs in this pool.' }),
    kind: Flags.string({ summary: 'Only tasks of this kind: experiment, notebook, command, tensorboard, shell.' }),
    ...outputFlags,
  };

  async run(): Promise<UsageReport> {
    const { since, until, by, user, group, pool, kind } = this.flags;
    const report = await (await this.session()).call('usage.report', {
      query: { since, until, by, user, group, pool, kind: kind as never },
    });
    // -o csv is the web UI's download, the same file (the period on every line).
    await this.print({ data: report, items: report.rows, view: usageView(report), text: () => usageTable(report), csv: () => usageCsv(report) });
    return report;
  }
}

type UsageRow = UsageReport['rows'][number];

/** The report's rows: their keys (the --by dimensions), then the amounts. */
function usageView(report: UsageReport): View<UsageRow> {
  const hours = (value: number) => value.toFixed(2);
  const keys: Array<Column<UsageRow>> = report.by.map((d) => ({ header: d.toUpperCase(), field: d, get: (r) => (d === 'group' ? (r.group ?? '(none)') : r[d]) }));
  return {
    name: (r) => report.by.map((d) => r[d] ?? '(none)').join('/'),
    columns: [
      ...keys,
      { header: 'GPU-H', field: 'gpuHours', get: (r) => hours(r.gpuHours), raw: (r) => r.gpuHours },
      { header: 'CPU-H', field: 'cpuHours', get: (r) => hours(r.cpuHours), raw: (r) => r.cpuHours },
      { header: 'MEM-GIB-H', field: 'memoryGibHours', get: (r) => hours(r.memoryGibHours), raw: (r) => r.memoryGibHours },
      { header: 'TASKS', field: 'tasks', get: (r) => r.tasks },
      { header: 'RUNS', field: 'runs', get: (r) => r.runs },
      { header: 'RUNNING', field: 'running', get: (r) => r.running },
      { header: 'WAIT-MEDIAN', field: 'waitMedianSeconds', get: (r) => formatWait(r.waitMedianSeconds), raw: (r) => r.waitMedianSeconds },
      { header: 'WAIT-P95', field: 'waitP95Seconds', get: (r) => formatWait(r.waitP95Seconds), raw: (r) => r.waitP95Seconds },
    ],
  };
}

function usageTable(report: UsageReport): string {
  const period = `Usage from ${report.since} to ${report.until}` + (report.visible.all ? '' : ` (yours${report.visible.groups.length ? ` and groups ${report.visible.groups.join(', ')}` : ''})`);
  if (report.rows.length === 0) return `${period}: no runs.`;
  const table = renderTable([...report.rows, { ...report.totals, user: 'TOTAL', group: 'TOTAL', pool: 'TOTAL', kind: 'TOTAL' as never }], usageView(report).columns);
  return `${period}\n${table}`;
}
