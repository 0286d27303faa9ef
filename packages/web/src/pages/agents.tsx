import { useEffect, useState } from 'preact/hooks';
import type { Agent } from '@trainyard/shared';
import { api } from '../api.js';
import { ErrorBanner, formatTime, Page } from '../components.js';

/** see_status: the machines, their resources and what they run. */
export function AgentsPage() {
  const [agents, setAgents] = useState<Agent[]>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api('agents.list').then((p) => setAgents(p.items), setError);
  }, []);
  return (
    <Page title="Agents">
      <ErrorBanner error={error} />
      {agents && agents.length === 0 && <p class="empty">No agents have registered.</p>}
      {agents && agents.length > 0 && (
        <table class="agents">
          <thead>
            <tr>
              <th>ID</th>
              <th>Pool</th>
              <th>State</th>
              <th>Executor</th>
              <th>CPUs</th>
              <th>GPUs</th>
              <th>Tasks</th>
              <th>Last seen</th>
            </tr>
          </thead>
          <tbody>
            {agents.map((a) => (
              <tr key={a.id} data-agent={a.id}>
                <td>{a.id}</td>
                <td>{a.pool}</td>
                <td>{a.enabled ? a.state : `${a.state} (disabled)`}</td>
                <td>{a.executor}</td>
                <td>{a.resources.cpus}</td>
                <td>{a.resources.gpus.length}</td>
                <td>{a.runningTasks.join(', ') || '-'}</td>
                <td>{formatTime(a.lastHeartbeatAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
