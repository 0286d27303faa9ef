import { useEffect, useRef, useState } from 'preact/hooks';
import type { MeResponse, Task } from '@trainyard/shared';
import { explainPendingReason, isTerminal } from '@trainyard/shared/constants';
import { holds } from '../access.js';
import { api } from '../api.js';
import { ErrorBanner, formatTime, Page } from '../components.js';

/** A task: state, who it runs as, and its logs, followed while it runs. */
export function TaskDetailPage(props: { id: number; me: MeResponse }) {
  const [task, setTask] = useState<Task>();
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<unknown>();
  const cursor = useRef(0);
  const params = { id: props.id };

  useEffect(() => {
    let live = true;
    cursor.current = 0;
    setLines([]);
    const follow = async () => {
      try {
        setTask(await api('tasks.get', { params }));
        for (;;) {
          const page = await api('tasks.logs', { params, query: { after: cursor.current, wait: 20 } });
          if (!live) return;
          cursor.current = page.next;
          if (page.items.length > 0) setLines((old) => [...old, ...page.items.map((l) => l.line)]);
          if (page.done) break;
          if (page.state !== task?.state) setTask(await api('tasks.get', { params }));
        }
        if (live) setTask(await api('tasks.get', { params }));
      } catch (err) {
        if (live) setError(err);
      }
    };
    void follow();
    return () => {
      live = false;
    };
  }, [props.id]);

  // Scoped operate_others may or may not cover this owner: offer it, and show the master's reason if not.
  const canKill = task && !isTerminal(task.state) && (holds(props.me, 'operate_others') || task.owner === props.me.user.username);
  const kill = async () => {
    try {
      setTask(await api('tasks.kill', { params }));
    } catch (err) {
      setError(err);
    }
  };

  return (
    <Page title={task ? `${task.kind} ${task.id}: ${task.name}` : `Task ${props.id}`}>
      <ErrorBanner error={error} />
      {task && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd class="task-state">{task.state}{task.killRequested && task.state !== 'KILLED' ? ' (stopping)' : ''}</dd>
            {task.pendingReason && (
              <>
                <dt>Waiting for</dt>
                <dd class="pending-reason">
                  {task.pendingReason}: {explainPendingReason(task.pendingReason)}
                </dd>
              </>
            )}
            <dt>Owner</dt>
            <dd>{task.owner}</dd>
            <dt>Runs as</dt>
            <dd class="run-as">
              {task.runAs.user}:{task.runAs.group} ({task.runAs.uid}:{task.runAs.gid})
            </dd>
            <dt>Agent</dt>
            <dd>{task.agent ?? '-'}</dd>
            <dt>Exit code</dt>
            <dd>{task.exitCode ?? '-'}</dd>
            <dt>Started</dt>
            <dd>{formatTime(task.startedAt)}</dd>
            <dt>Image</dt>
            <dd>{task.config.image}</dd>
          </dl>
          {canKill && (
            <button class="danger" onClick={kill}>
              Kill
            </button>
          )}
        </>
      )}
      <h2>Logs</h2>
      <pre class="logs">{lines.join('\n') || '(no output yet)'}</pre>
    </Page>
  );
}
