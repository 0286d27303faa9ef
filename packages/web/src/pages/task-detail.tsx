import { useEffect, useRef, useState } from 'preact/hooks';
import type { MeResponse, ServiceStatus, Task } from '@trainyard/shared';
import { isTerminal } from '@trainyard/shared/constants';
import { SERVICE_KINDS } from '@trainyard/shared/interactive';
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

  // A notebook's or TensorBoard's service: its URL, and an Open button once it answers.
  const [service, setService] = useState<ServiceStatus>();
  const serves = task !== undefined && SERVICE_KINDS.includes(task.kind);
  useEffect(() => {
    if (!serves || task.state !== 'RUNNING') return;
    let live = true;
    const probe = () =>
      api('tasks.service', { params, query: { probe: true } })
        .then((status) => {
          if (!live) return;
          setService(status);
          if (!status.ready) timer = setTimeout(probe, 2000);
        })
        .catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    void probe();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [props.id, serves, task?.state]);

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
            {serves && (
              <>
                <dt>URL</dt>
                <dd class="service-url">
                  {window.location.origin}/proxy/{task.id}/
                  {task.state === 'RUNNING' && !service?.ready && ' (waiting for the service to answer)'}
                </dd>
              </>
            )}
          </dl>
          {serves && task.state === 'RUNNING' && service?.ready && (
            <a class="button" href={service.path} target="_blank" rel="noopener">
              Open
            </a>
          )}
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
