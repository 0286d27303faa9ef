import { useEffect, useState } from 'preact/hooks';
import type { TaskSummary } from '@trainyard/shared';
import { describeKillRequest, displayState, explainPendingReason, TASK_SECTIONS } from '@trainyard/shared/constants';
import { proxyPath, SERVICE_KINDS } from '@trainyard/shared/interactive';
import { api } from '../api.js';
import { ErrorBanner, formatTime, Page } from '../components.js';
import { Link } from '../router.js';

/** One tab: the tasks of one kind, only the signed-in user's unless "Show only mine" is unchecked. */
export function TaskListPage(props: { section: string }) {
  const kind = TASK_SECTIONS[props.section]!;
  const [onlyMine, setOnlyMine] = useState(true);
  const [tasks, setTasks] = useState<TaskSummary[]>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    let live = true;
    const load = () =>
      api('tasks.list', { query: { kind, all: !onlyMine, limit: 100 } })
        .then((page) => live && (setTasks(page.items), setError(undefined)))
        .catch((err) => live && setError(err));
    void load();
    const timer = setInterval(load, 5000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [kind, onlyMine]);

  return (
    <Page title={props.section[0]!.toUpperCase() + props.section.slice(1)}>
      <label class="toggle">
        <input type="checkbox" name="only-mine" checked={onlyMine} onChange={(e) => setOnlyMine(e.currentTarget.checked)} /> Show only mine
      </label>
      <ErrorBanner error={error} />
      {tasks && tasks.length === 0 && <p class="empty">No {props.section} yet.</p>}
      {tasks && tasks.length > 0 && (
        <table class="tasks">
          <thead>
            <tr>
              <th>ID</th>
              <th>Owner</th>
              <th>State</th>
              <th>Name</th>
              <th>Run as</th>
              <th>Started</th>
              {SERVICE_KINDS.includes(kind) && <th />}
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={t.id} data-task-id={t.id}>
                <td>
                  <Link href={`/${props.section}/${t.id}`}>{t.id}</Link>
                </td>
                <td>{t.owner}</td>
                <td class={`state state-${displayState(t).toLowerCase()}`}>
                  {displayState(t)}
                  {displayState(t) === 'KILLING' && t.killRequest && (
                    <span class="kill-request" title={`still ${t.state} until its agent has stopped it`}>
                      {' '}
                      (by {describeKillRequest(t.killRequest)})
                    </span>
                  )}
                  {t.pendingReason && (
                    <span class="pending-reason" title={explainPendingReason(t.pendingReason)}>
                      {' '}
                      ({t.pendingReason})
                    </span>
                  )}
                </td>
                <td>{t.name}</td>
                <td>
                  {t.runAs.user}:{t.runAs.group} ({t.runAs.uid}:{t.runAs.gid})
                </td>
                <td>{formatTime(t.startedAt)}</td>
                {SERVICE_KINDS.includes(kind) && (
                  <td>
                    {/* The task page says whether it answers yet; the proxy answers 403 to whoever may not open it. */}
                    {t.state === 'RUNNING' && (
                      <a class="button" href={proxyPath(t.id)} target="_blank" rel="noopener">
                        Open
                      </a>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
