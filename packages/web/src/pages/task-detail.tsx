import { useEffect, useRef, useState } from 'preact/hooks';
import type { MeResponse, RunSpec, ServiceStatus, Task } from '@trainyard/shared';
import { describeIdentitySource, explainPendingReason, formatByteSize, isTerminal } from '@trainyard/shared/constants';
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
            <dt>Group</dt>
            <dd>{task.group ?? '-'}</dd>
            <dt>Pool</dt>
            <dd data-field="pool">{task.pool}</dd>
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
            {serves && (
              <>
                <dt>URL</dt>
                <dd class="service-url">
                  {service?.origin ?? window.location.origin}/proxy/{task.id}/
                  {task.state === 'RUNNING' && !service?.ready && ' (waiting for the service to answer)'}
                </dd>
              </>
            )}
          </dl>
          {serves && task.state === 'RUNNING' && service?.ready && (
            <a class="button" href={`${service.origin ?? ''}${service.path}`} target="_blank" rel="noopener">
              Open
            </a>
          )}
          <RunSpecFacts spec={task.runSpec} />
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

/** The run spec admission stored: what the agent executes, and where its identity came from. */
function RunSpecFacts(props: { spec: RunSpec }) {
  const { spec } = props;
  const s = spec.identitySources;
  const source = (field: keyof RunSpec['identitySources']) => describeIdentitySource(s[field]);
  const r = spec.resources;
  return (
    <>
      <h2>Run spec</h2>
      <dl class="facts run-spec">
        <dt>Identity from</dt>
        <dd class="identity-sources">
          uid: {source('uid')}, user: {source('user')}, gid: {source('gid')}, group: {source('group')}
        </dd>
        <dt>Groups</dt>
        <dd>{spec.runAs.supplementaryGroups.map((g) => `${g.name} (${g.gid})`).join(', ') || '-'}</dd>
        <dt>Image</dt>
        <dd class="image">
          {spec.image} (pull: {spec.pull})
        </dd>
        <dt>Entrypoint</dt>
        <dd>
          <code>{JSON.stringify(spec.entrypoint)}</code>
        </dd>
        <dt>Resources</dt>
        <dd class="resources">
          {[`gpus=${r.gpus}`, r.cpu ? `cpu=${r.cpu}` : '', r.memory ? `memory=${formatByteSize(r.memory)}` : ''].filter(Boolean).join(' ')}
        </dd>
        <dt>Bind mounts</dt>
        <dd>
          {spec.bindMounts.length === 0 ? (
            '-'
          ) : (
            <ul class="mounts">
              {spec.bindMounts.map((m) => (
                <li>
                  {m.hostPath} → {m.containerPath}
                  {m.readOnly ? ' (read-only)' : ''} [{m.source === 'task' ? 'admitted by' : 'added by'} {m.rule}]
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>Environment</dt>
        <dd>{Object.keys(spec.environment).sort().join(', ') || '-'}</dd>
        <dt>Ports</dt>
        <dd>{spec.ports.map((p) => `${p.container}${p.name ? ` (${p.name})` : ''}`).join(', ') || '-'}</dd>
        <dt>Capabilities</dt>
        <dd>{spec.confinement.capabilities.length > 0 ? `all dropped but ${spec.confinement.capabilities.join(', ')}` : 'all dropped'}</dd>
      </dl>
    </>
  );
}
