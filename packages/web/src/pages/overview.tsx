import { useState } from 'preact/hooks';
import type { ClusterHistory, ClusterOverview, MeResponse, UsageSeries } from '@trainyard/shared';
import { formatByteSize, formatWait } from '@trainyard/shared/constants';
import { api } from '../api.js';
import { Chart } from '../chart.js';
import { ErrorBanner, Meter, Page, usePolling } from '../components.js';
import { Link } from '../router.js';

const GIB = 1024 ** 3;

/** The cluster at a glance: capacity against allocation per pool, the queue, who runs what; the last day in charts. */
export function OverviewPage(_props: { me: MeResponse }) {
  const [overview, setOverview] = useState<ClusterOverview>();
  const [history, setHistory] = useState<ClusterHistory>();
  const [byUser, setByUser] = useState<UsageSeries>();
  const [error, setError] = useState<unknown>();

  usePolling(
    async (live) => {
      try {
        const [o, h, s] = await Promise.all([
          api('cluster.overview'),
          api('cluster.history', { query: { since: '1d' } }),
          api('usage.series', { query: { since: '1d', by: 'user' } }),
        ]);
        if (!live()) return;
        setOverview(o);
        setHistory(h);
        setByUser(s);
        setError(undefined);
      } catch (err) {
        if (live()) setError(err);
      }
    },
    30_000,
    [],
  );

  const samples = history?.samples ?? [];
  const times = samples.map((s) => Date.parse(s.at) / 1000);
  const stepHours = (byUser?.stepSeconds ?? 3600) / 3600;
  return (
    <Page title="Cluster overview" subtitle={overview ? `As of ${new Date(overview.at).toLocaleString()}` : undefined}>
      <ErrorBanner error={error} />
      {overview && (
        <>
          <div class="cards">
            {overview.pools.map((pool) => (
              <article class="card pool" key={pool.name} data-pool={pool.name}>
                <h2>
                  Pool {pool.name} <span class="muted">({pool.available} of {pool.agents} agents taking work)</span>
                </h2>
                <Meter label="GPUs" used={pool.allocated.gpus} total={pool.capacity.gpus} format={(n) => String(n)} />
                <Meter label="CPUs" used={pool.allocated.cpu} total={pool.capacity.cpu} />
                <Meter label="Memory" used={pool.allocated.memory} total={pool.capacity.memory} format={(n) => formatByteSize(n)} />
              </article>
            ))}
            <article class="card queue">
              <h2>Queue</h2>
              <p class="figure">
                <span class="figure-value" data-figure="queued">
                  {overview.queue.length}
                </span>{' '}
                waiting
              </p>
              <p class="muted">Oldest waiting {overview.queue.oldestWaitSeconds === null ? '-' : formatWait(overview.queue.oldestWaitSeconds)}</p>
              <p class="muted">
                {overview.running.tasks} holding room on agents · <Link href="/commands">tasks</Link>
              </p>
            </article>
          </div>

          <div class="charts">
            <Chart
              title="GPUs allocated, last day"
              unit="GPUs"
              class="chart-gpus"
              times={times}
              series={[
                { label: 'allocated', values: samples.map((s) => s.gpusAllocated) },
                { label: 'capacity', values: samples.map((s) => s.gpusTotal), dashed: true },
              ]}
            />
            <Chart
              title="CPUs allocated, last day"
              unit="CPUs"
              class="chart-cpus"
              times={times}
              series={[
                { label: 'allocated', values: samples.map((s) => s.cpuAllocated), color: '#2b8a3e' },
                { label: 'capacity', values: samples.map((s) => s.cpuTotal), dashed: true },
              ]}
            />
            <Chart
              title="Queue, last day"
              unit="tasks"
              class="chart-queue"
              times={times}
              series={[
                { label: 'queued', values: samples.map((s) => s.queued), color: '#d9480f' },
                { label: 'running', values: samples.map((s) => s.running), color: '#2563eb' },
              ]}
            />
            {byUser && (
              <Chart
                title="GPUs in use by user, last day (average per bucket)"
                unit="GPUs"
                class="chart-users"
                stacked
                bars
                times={byUser.buckets.map((b) => Date.parse(b) / 1000)}
                series={byUser.series.map((s) => ({ label: s.key, values: s.gpuHours.map((h) => h / stepHours) }))}
              />
            )}
          </div>

          <h2>Running by user</h2>
          {overview.running.byUser.length === 0 ? (
            <p class="empty">Nothing is running.</p>
          ) : (
            <div class="table-wrap" tabIndex={0}>
              <table class="running-by-user">
                <thead>
                  <tr>
                    <th scope="col">User</th>
                    <th scope="col" class="num">Tasks</th>
                    <th scope="col" class="num">GPUs</th>
                    <th scope="col" class="num">CPUs</th>
                    <th scope="col" class="num">Memory</th>
                  </tr>
                </thead>
                <tbody>
                  {overview.running.byUser.map((u) => (
                    <tr key={u.user} data-user={u.user}>
                      <td>{u.user}</td>
                      <td class="num">{u.tasks}</td>
                      <td class="num">{u.gpus}</td>
                      <td class="num">{+u.cpu.toFixed(2)}</td>
                      <td class="num">{u.memory ? `${+(u.memory / GIB).toFixed(1)} GiB` : '-'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}

          {overview.agents && (
            <>
              <h2>Agents</h2>
              {overview.agents.length === 0 ? (
                <p class="empty">No agents have registered.</p>
              ) : (
                <div class="table-wrap" tabIndex={0}>
                  <table class="agent-capacity">
                    <thead>
                      <tr>
                        <th scope="col">Agent</th>
                        <th scope="col">Pool</th>
                        <th scope="col">State</th>
                        <th scope="col">GPUs used</th>
                        <th scope="col">CPUs used</th>
                        <th scope="col">Memory used</th>
                        <th scope="col" class="num">Tasks</th>
                      </tr>
                    </thead>
                    <tbody>
                      {overview.agents.map((a) => (
                        <tr key={a.id} data-agent={a.id}>
                          <td>{a.id}</td>
                          <td>{a.pool}</td>
                          <td>{a.enabled ? a.state : `${a.state} (disabled)`}</td>
                          <td>
                            {a.allocated.gpus} / {a.capacity.gpus}
                          </td>
                          <td>
                            {+a.allocated.cpu.toFixed(2)} / {a.capacity.cpu}
                          </td>
                          <td>
                            {formatByteSize(a.allocated.memory)} / {formatByteSize(a.capacity.memory)}
                          </td>
                          <td class="num">{a.tasks}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          )}
        </>
      )}
    </Page>
  );
}
