import { useEffect, useRef, useState } from 'preact/hooks';
import type { MeResponse, RunSpec, ServiceStatus, Task, TaskLogLine, TaskTimelineEntry, TaskWhy } from '@trainyard/shared';
import { describeIdentitySource, describeKillRequest, displayState, explainPendingReason, formatByteSize, isTerminal, taskStatusKey } from '@trainyard/shared/constants';
import { SERVICE_KINDS } from '@trainyard/shared/interactive';
import { holds } from '../access.js';
import { api } from '../api.js';
import { download, ErrorBanner, formatDuration, formatTime, Page, StateBadge } from '../components.js';

/** A task: state, who it runs as, its history, and its logs (timestamps, search, follow, download). */
export function TaskDetailPage(props: { id: number; me: MeResponse }) {
  const [task, setTask] = useState<Task>();
  const [lines, setLines] = useState<TaskLogLine[]>([]);
  const [timeline, setTimeline] = useState<TaskTimelineEntry[]>([]);
  const [error, setError] = useState<unknown>();
  const [follow, setFollow] = useState(true);
  const [showTimes, setShowTimes] = useState(true);
  const [search, setSearch] = useState('');
  const cursor = useRef(0);
  const logBox = useRef<HTMLPreElement>(null);
  const params = { id: props.id };
  const refresh = async (): Promise<Task> => {
    const [t, history] = await Promise.all([api('tasks.get', { params }), api('tasks.timeline', { params })]);
    setTask(t);
    setTimeline(history.items);
    return t;
  };

  useEffect(() => {
    let live = true;
    cursor.current = 0;
    setLines([]);
    const read = async () => {
      try {
        let seen = taskStatusKey(await refresh());
        for (;;) {
          const page = await api('tasks.logs', { params, query: { after: cursor.current, wait: 20, ...(seen ? { seen } : {}) } });
          if (!live) return;
          cursor.current = page.next;
          if (page.items.length > 0) setLines((old) => [...old, ...page.items]);
          if (page.done) break;
          // The page carries the status: a new state, pending reason or kill refreshes the facts.
          if (taskStatusKey(page) !== seen) seen = taskStatusKey(await refresh());
        }
        if (live) await refresh();
      } catch (err) {
        if (live) setError(err);
      }
    };
    void read();
    return () => {
      live = false;
    };
  }, [props.id]);

  // Following: the newest line stays in view as lines arrive.
  useEffect(() => {
    if (follow && logBox.current) logBox.current.scrollTop = logBox.current.scrollHeight;
  }, [lines.length, follow]);

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
  const canKill = task && !isTerminal(task.state) && task.killRequest === null && (holds(props.me, 'operate_others') || task.owner === props.me.user.username);
  const kill = async () => {
    try {
      setTask(await api('tasks.kill', { params }));
      setTimeline((await api('tasks.timeline', { params })).items);
    } catch (err) {
      setError(err);
    }
  };
  const needle = search.trim().toLowerCase();
  const shown = needle ? lines.filter((l) => l.line.toLowerCase().includes(needle)) : lines;
  const logText = (list: TaskLogLine[]) => list.map((l) => `${l.time} ${l.stream} ${l.line}`).join('\n') + (list.length ? '\n' : '');
  const duration = task?.startedAt ? (task.endedAt ? Date.parse(task.endedAt) : Date.now()) - Date.parse(task.startedAt) : null;

  return (
    <Page
      title={task ? `${task.kind} ${task.id}: ${task.name}` : `Task ${props.id}`}
      actions={
        canKill && (
          <button class="danger" onClick={kill}>
            Kill
          </button>
        )
      }
    >
      <ErrorBanner error={error} />
      {task && (
        <>
          <dl class="facts">
            <dt>State</dt>
            {/* KILLING while a kill is under way: the stored state stays until the agent reports the task stopped. */}
            <dd class={`task-state state-${displayState(task).toLowerCase()}`}>
              {displayState(task)}
              {displayState(task) === 'KILLING' && <span class="stored-state"> (still {task.state} until its agent has stopped it)</span>}
              {displayState(task) === 'PREEMPTING' && <span class="stored-state"> (still {task.state} until its agent has stopped it; then it is queued again)</span>}
            </dd>
            {task.killRequest && (
              <>
                <dt>{task.killRequest.preempt ? 'Preempted by' : 'Kill asked by'}</dt>
                <dd class="kill-request">
                  {describeKillRequest(task.killRequest)} at {formatTime(task.killRequest.at)}
                </dd>
              </>
            )}
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
            {task.placement && (
              <>
                <dt>Placement</dt>
                <dd data-field="placement">{task.placement}</dd>
              </>
            )}
            <dt>Priority</dt>
            <dd data-field="priority">
              {task.priority} (in its owner's own queue){task.preemptible ? '' : '; never preempted, never borrows'}
              {task.preemptions > 0 ? `; preempted ${task.preemptions} time${task.preemptions === 1 ? '' : 's'}` : ''}
            </dd>
            <dt>Runs as</dt>
            <dd class="run-as">
              {task.runAs.user}:{task.runAs.group} ({task.runAs.uid}:{task.runAs.gid})
            </dd>
            <dt>Agent</dt>
            <dd>{task.agent ?? '-'}</dd>
            <dt>Exit code</dt>
            <dd class="exit-code">{task.exitCode ?? '-'}</dd>
            <dt>Created</dt>
            <dd>{formatTime(task.createdAt)}</dd>
            <dt>Started</dt>
            <dd>{formatTime(task.startedAt)}</dd>
            <dt>Ended</dt>
            <dd>{formatTime(task.endedAt)}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(duration)}{task.restarts ? ` (${task.restarts} restart${task.restarts > 1 ? 's' : ''})` : ''}</dd>
            {task.message && (
              <>
                <dt>Message</dt>
                <dd class="message">{task.message}</dd>
              </>
            )}
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
          {task.state === 'QUEUED' && <WhyWaits id={task.id} statusKey={taskStatusKey(task)} />}
          <h2>Timeline</h2>
          <ol class="timeline">
            {timeline.map((e, i) => {
              const nextAt = timeline[i + 1]?.at ?? (isTerminal(task.state) ? undefined : new Date().toISOString());
              return (
                <li key={`${e.at}-${i}`} class={`timeline-entry event-${e.event} state-${e.state.toLowerCase()}`} data-event={e.event} data-state={e.state}>
                  <time dateTime={e.at}>{new Date(e.at).toLocaleString()}</time>
                  <span class="timeline-what">
                    {e.event === 'state' && <StateBadge state={e.state} />}
                    {e.event === 'waiting' && (e.detail ? `waiting: ${e.detail} (${explainPendingReason(e.detail)})` : 'its turn came (nothing holds it back)')}
                    {e.event === 'kill_requested' && `kill asked${e.detail ? `: ${e.detail}` : ''}`}
                    {e.event === 'state' && e.detail ? <span class="timeline-detail">{e.state === 'ASSIGNED' ? ` to ${e.detail}` : ` ${e.detail}`}</span> : null}
                  </span>
                  {nextAt && e.event === 'state' && <span class="timeline-for">for {formatDuration(Date.parse(nextAt) - Date.parse(e.at))}</span>}
                </li>
              );
            })}
          </ol>
          <RunSpecFacts spec={task.runSpec} />
        </>
      )}
      <h2>Logs</h2>
      <form class="toolbar" aria-label="Log options" onSubmit={(e) => e.preventDefault()}>
        <label class="field inline search">
          <span class="field-label">Search</span>
          <input type="search" name="log-search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="text in a line" />
        </label>
        <label class="toggle">
          <input type="checkbox" name="follow" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow
        </label>
        <label class="toggle">
          <input type="checkbox" name="timestamps" checked={showTimes} onChange={(e) => setShowTimes(e.currentTarget.checked)} /> Timestamps
        </label>
        <button type="button" onClick={() => download(`task-${props.id}.log`, logText(lines))} disabled={lines.length === 0}>
          Download
        </button>
        {needle && (
          <span class="muted" aria-live="polite">
            {shown.length} of {lines.length} lines match
          </span>
        )}
      </form>
      <pre class="logs" ref={logBox} tabIndex={0} aria-label="Task output">
        {shown.length === 0
          ? lines.length === 0
            ? '(no output yet)'
            : '(no line matches)'
          : shown.map((l) => (
              <div class={`log-line log-${l.stream}`} key={l.seq}>
                {showTimes && <span class="log-time">{new Date(l.time).toLocaleTimeString()} </span>}
                {l.line}
              </div>
            ))}
      </pre>
    </Page>
  );
}

/** Why a queued task waits (`yard why`): every reason at once, each limit, each machine, who is ahead, and when it may start. */
function WhyWaits(props: { id: number; statusKey: string }) {
  const [why, setWhy] = useState<TaskWhy>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let live = true;
    api('tasks.why', { params: { id: props.id } })
      .then((w) => live && setWhy(w))
      .catch((err) => live && setError(err));
    return () => {
      live = false;
    };
  }, [props.id, props.statusKey]);
  const amount = (v: number) => (Number.isFinite(v) ? String(Math.round(v * 100) / 100) : 'no limit');
  return (
    <section class="why" aria-label="Why it waits">
      <h2>Why it waits</h2>
      <ErrorBanner error={error} />
      {why && (
        <>
          {why.reasons.length === 0 ? (
            <p class="why-none">Nothing holds it back: its turn has not come yet.</p>
          ) : (
            <ul class="why-reasons">
              {why.reasons.map((r) => (
                <li key={r} data-reason={r}>
                  <code>{r}</code>: {explainPendingReason(r)}
                </li>
              ))}
            </ul>
          )}
          {why.checks.length > 0 && (
            <div class="table-wrap">
              <table class="why-checks">
                <caption>Every limit checked</caption>
                <thead>
                  <tr>
                    <th scope="col">Layer</th>
                    <th scope="col">Name</th>
                    <th scope="col">Covers</th>
                    <th scope="col">Resource</th>
                    <th scope="col">Used</th>
                    <th scope="col">Asks</th>
                    <th scope="col">Limit</th>
                    <th scope="col">Holds</th>
                  </tr>
                </thead>
                <tbody>
                  {why.checks.map((c, i) => (
                    <tr key={i} class={c.holds ? 'holds' : ''} data-holds={c.holds ? 'yes' : 'no'}>
                      <td>{c.layer}</td>
                      <td>{c.name}</td>
                      <td>{c.via}</td>
                      <td>{c.resource}</td>
                      <td>{amount(c.used)}</td>
                      <td>{amount(c.ask)}</td>
                      <td>{amount(c.limit)}</td>
                      <td>{c.holds ? 'yes' : 'no'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {why.placement.length > 0 && (
            <ul class="why-placement">
              {why.placement.map((p) => (
                <li key={p.node}>
                  {p.node}: {p.fits ? 'fits' : `does not fit (${p.why})`}
                </li>
              ))}
            </ul>
          )}
          <p class="why-queue">
            {why.queue.position ?? '?'} of {why.queue.length} in pool {why.pool} ({why.queue.policy}
            {why.queue.fairShareRank !== null ? `, fair-share rank ${why.queue.fairShareRank}` : ''})
            {why.queue.ahead.length > 0 && `; ahead: ${why.queue.ahead.map((a) => `${a.id} (${a.owner})`).join(', ')}`}
          </p>
          <p class="why-estimate" data-confidence={why.estimate.confidence}>
            Estimated start:{' '}
            {why.estimate.startAt === null
              ? 'unknown'
              : `${formatTime(why.estimate.startAt)} ± ${why.estimate.errorSeconds} s (confidence ${why.estimate.confidence})`}
          </p>
          {why.estimate.basis.length > 0 && (
            <ul class="why-basis">
              {why.estimate.basis.map((b, i) => (
                <li key={i}>{b}</li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
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
