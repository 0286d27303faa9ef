import { useEffect, useState } from 'preact/hooks';
import type { PoolView } from '@trainyard/shared';
import { api } from '../api.js';
import { ErrorBanner, Page } from '../components.js';

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
const number = (n: number) => String(Math.round(n * 100) / 100);

/** How long the oldest queued task has waited, roughly. */
function wait(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

/** A Slurm pool's own figures: what Slurm has allocated in the partition (to anyone), and how many of its tasks wait in Slurm's queue. */
function engineCells(p: PoolView) {
  if (p.engine === null) return { allocated: '-', pending: '-' };
  if (p.engine.problem !== null) return { allocated: 'unknown', pending: String(p.engine.pending) };
  return { allocated: `cpu ${number(p.engine.allocated.cpu)} / ${number(p.capacity.cpu)}, GPUs ${p.engine.allocated.gpus} / ${p.capacity.gpus}`, pending: String(p.engine.pending) };
}

/** Everyone signed in: each pool's manager, what its tasks hold of what it has, and its queue (agents with see_status). */
export function PoolsPage() {
  const [pools, setPools] = useState<PoolView[]>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api('pools.list').then((p) => setPools(p.items), setError);
  }, []);
  const engines = pools?.some((p) => p.engine !== null) ?? false;
  return (
    <Page title="Pools">
      <ErrorBanner error={error} />
      {pools && (
        <table class="pools">
          <thead>
            <tr>
              <th>Name</th>
              <th>Manager</th>
              <th>Nodes</th>
              <th>CPU</th>
              <th>Memory</th>
              <th>GPUs</th>
              <th>Tasks</th>
              <th>Queued</th>
              <th>Oldest wait</th>
              {engines && <th>Slurm allocated</th>}
              {engines && <th>In Slurm's queue</th>}
              <th>Agents</th>
            </tr>
          </thead>
          <tbody>
            {pools.map((p) => (
              <tr key={p.name} data-pool={p.name}>
                <td>
                  {p.name}
                  {p.default && ' (default)'}
                  {p.description && <div class="hint">{p.description}</div>}
                </td>
                <td>{p.manager}</td>
                <td>{p.nodes}</td>
                <td data-field="cpu">
                  {number(p.use.cpu)} / {number(p.capacity.cpu)}
                </td>
                <td>
                  {gib(p.use.memory)} / {gib(p.capacity.memory)}
                </td>
                <td data-field="gpus">
                  {p.use.gpus} / {p.capacity.gpus}
                </td>
                <td data-field="tasks">{p.use.tasks}</td>
                <td data-field="queued">{p.queue.length}</td>
                <td>{wait(p.queue.oldestWaitSeconds)}</td>
                {engines && (
                  <td data-field="engine-allocated" title={p.engine?.problem ?? undefined}>
                    {engineCells(p).allocated}
                  </td>
                )}
                {engines && <td data-field="engine-pending">{engineCells(p).pending}</td>}
                <td>{Array.isArray(p.details?.agents) ? p.details.agents.join(', ') || '-' : '-'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
