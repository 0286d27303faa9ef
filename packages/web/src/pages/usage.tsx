import { useState } from 'preact/hooks';
import type { MeResponse, UsageDimension, UsageReport, UsageSeries } from '@trainyard/shared';
import { formatWait, usageCsv } from '@trainyard/shared/constants';
import { api } from '../api.js';
import { Chart } from '../chart.js';
import { download, ErrorBanner, Page, usePolling } from '../components.js';

const PERIODS: Array<{ value: string; label: string }> = [
  { value: '1d', label: 'Last day' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
  { value: '90d', label: 'Last 90 days' },
  { value: 'custom', label: 'Dates…' },
];

/**
 * GPU- and CPU-hours over time by user, group, pool or kind (stacked), the report beneath, a CSV of it.
 * The master decides whose runs are in it: yours, your scoped groups', or everyone's with see_status.
 */
export function UsageReportPage(_props: { me: MeResponse }) {
  const [period, setPeriod] = useState('7d');
  const [from, setFrom] = useState(() => new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10));
  const [to, setTo] = useState(() => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10));
  const [by, setBy] = useState<UsageDimension>('user');
  const [report, setReport] = useState<UsageReport>();
  const [series, setSeries] = useState<UsageSeries>();
  const [error, setError] = useState<unknown>();
  const since = period === 'custom' ? from : period;
  const until = period === 'custom' ? to : 'now';

  usePolling(
    async (live) => {
      try {
        const [r, s] = await Promise.all([api('usage.report', { query: { since, until, by } }), api('usage.series', { query: { since, until, by } })]);
        if (!live()) return;
        setReport(r);
        setSeries(s);
        setError(undefined);
      } catch (err) {
        if (live()) setError(err);
      }
    },
    60_000,
    [since, until, by],
  );

  const times = series?.buckets.map((b) => Date.parse(b) / 1000) ?? [];
  const scope = report ? (report.visible.all ? "Everyone's runs" : `Your runs${report.visible.groups.length ? ` and those charged to ${report.visible.groups.join(', ')}` : ''}`) : '';
  return (
    <Page
      title="Usage"
      subtitle={report ? `${scope}, ${new Date(report.since).toLocaleString()} to ${new Date(report.until).toLocaleString()}` : undefined}
      actions={
        report && (
          <button type="button" onClick={() => download(`usage-${by}-${report.since.slice(0, 10)}-${report.until.slice(0, 10)}.csv`, usageCsv(report), 'text/csv')}>
            Download CSV
          </button>
        )
      }
    >
      <form class="toolbar" aria-label="Report options" onSubmit={(e) => e.preventDefault()}>
        <label class="field inline">
          <span class="field-label">Period</span>
          <select name="period" value={period} onChange={(e) => setPeriod(e.currentTarget.value)}>
            {PERIODS.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        {period === 'custom' && (
          <>
            <label class="field inline">
              <span class="field-label">From</span>
              <input type="date" name="from" value={from} max={to} required onChange={(e) => e.currentTarget.value && setFrom(e.currentTarget.value)} />
            </label>
            <label class="field inline">
              <span class="field-label">To</span>
              <input type="date" name="to" value={to} min={from} required onChange={(e) => e.currentTarget.value && setTo(e.currentTarget.value)} />
            </label>
          </>
        )}
        <label class="field inline">
          <span class="field-label">By</span>
          <select name="by" value={by} onChange={(e) => setBy(e.currentTarget.value as UsageDimension)}>
            <option value="user">user</option>
            <option value="group">group</option>
            <option value="pool">pool</option>
            <option value="kind">kind</option>
          </select>
        </label>
      </form>
      <ErrorBanner error={error} />
      {series && (
        <div class="charts two">
          <Chart title={`GPU-hours by ${by}`} unit="GPU-h" class="chart-gpu-hours" stacked bars times={times} series={series.series.map((s) => ({ label: s.key, values: s.gpuHours }))} />
          <Chart title={`CPU-hours by ${by}`} unit="CPU-h" class="chart-cpu-hours" stacked bars times={times} series={series.series.map((s) => ({ label: s.key, values: s.cpuHours }))} />
        </div>
      )}
      {report && report.rows.length === 0 && <p class="empty">No runs in this period.</p>}
      {report && report.rows.length > 0 && (
        <div class="table-wrap" tabIndex={0}>
          <table class="usage-report">
            <thead>
              <tr>
                <th scope="col">{by[0]!.toUpperCase() + by.slice(1)}</th>
                <th scope="col" class="num">GPU-hours</th>
                <th scope="col" class="num">CPU-hours</th>
                <th scope="col" class="num">Memory GiB-hours</th>
                <th scope="col" class="num">Tasks</th>
                <th scope="col" class="num">Runs</th>
                <th scope="col" class="num">Running</th>
                <th scope="col" class="num">Median wait</th>
                <th scope="col" class="num">95th pct wait</th>
              </tr>
            </thead>
            <tbody>
              {report.rows.map((r) => {
                const key = by === 'group' ? (r.group ?? '(none)') : String(r[by] ?? '');
                return (
                  <tr key={key} data-key={key}>
                    <th scope="row">{key}</th>
                    <td class="num">{r.gpuHours.toFixed(2)}</td>
                    <td class="num">{r.cpuHours.toFixed(2)}</td>
                    <td class="num">{r.memoryGibHours.toFixed(2)}</td>
                    <td class="num">{r.tasks}</td>
                    <td class="num">{r.runs}</td>
                    <td class="num">{r.running}</td>
                    <td class="num">{formatWait(r.waitMedianSeconds)}</td>
                    <td class="num">{formatWait(r.waitP95Seconds)}</td>
                  </tr>
                );
              })}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">Total</th>
                <td class="num">{report.totals.gpuHours.toFixed(2)}</td>
                <td class="num">{report.totals.cpuHours.toFixed(2)}</td>
                <td class="num">{report.totals.memoryGibHours.toFixed(2)}</td>
                <td class="num">{report.totals.tasks}</td>
                <td class="num">{report.totals.runs}</td>
                <td class="num">{report.totals.running}</td>
                <td class="num">{formatWait(report.totals.waitMedianSeconds)}</td>
                <td class="num">{formatWait(report.totals.waitP95Seconds)}</td>
              </tr>
            </tfoot>
          </table>
        </div>
      )}
    </Page>
  );
}
