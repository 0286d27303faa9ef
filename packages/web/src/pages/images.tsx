import { useEffect, useState } from 'preact/hooks';
import type { ImageList, ImageOperation, ImageOperationAgent, PoolView } from '@trainyard/shared';
import { formatDecimalSize, shortImageId } from '@trainyard/shared/constants';
import { api } from '../api.js';
import { DialogButton, ErrorBanner, Field, formatTime, Page, validateForm } from '../components.js';

const size = (bytes: number | null): string => (bytes === null ? '-' : formatDecimalSize(bytes, ' '));

/** One agent's part of a pull, as Docker reports its layers. */
function progressOf(part: ImageOperationAgent): string {
  if (part.state === 'waiting') return 'waiting for the agent';
  if (part.state !== 'running') return part.message ?? part.state;
  const layers = part.layers;
  if (layers.length === 0) return part.status ?? 'pulling';
  const finished = layers.filter((l) => /complete|already exists/i.test(l.status)).length;
  const downloading = layers.filter((l) => l.total !== null && l.total > 0 && /download/i.test(l.status));
  const bytes = downloading.length > 0 ? `, ${size(downloading.reduce((s, l) => s + (l.current ?? 0), 0))} of ${size(downloading.reduce((s, l) => s + (l.total ?? 0), 0))}` : '';
  return `${finished} of ${layers.length} layers done${bytes}`;
}

/**
 * Everyone signed in: the images on the agents (one row per tag), where each is, and whether the
 * viewer's policy admits it; a pull for those whose policy lets them (images.user_pull), with each
 * agent's progress as it goes.
 */
export function ImagesPage() {
  const [list, setList] = useState<ImageList>();
  const [pools, setPools] = useState<PoolView[]>([]);
  const [filter, setFilter] = useState<{ name: string; pool: string }>({ name: '', pool: '' });
  const [error, setError] = useState<unknown>();
  const reload = () =>
    api('images.list', { query: { ...(filter.name ? { name: filter.name } : {}), ...(filter.pool ? { pool: filter.pool } : {}) } }).then((l) => {
      setError(undefined);
      setList(l);
    }, setError);
  useEffect(() => void reload(), [filter.name, filter.pool]);
  useEffect(() => void api('pools.list').then((p) => setPools(p.items), () => undefined), []);

  const applyFilter = (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    setFilter({ name: String(data.get('name') ?? '').trim(), pool: String(data.get('pool') ?? '') });
  };

  return (
    <Page
      title="Images"
      subtitle="The images on the agents. Allowed: whether a task of yours naming it would pass your policy's images.allow."
      actions={list?.caller.pull.allowed ? <PullButton pools={pools} onDone={reload} /> : undefined}
    >
      <ErrorBanner error={error} />
      <form class="inline" onSubmit={applyFilter} aria-label="Filter images">
        <input name="name" aria-label="Name (glob)" placeholder="name, e.g. team/*" defaultValue={filter.name} size={24} />
        <select name="pool" aria-label="Pool" defaultValue={filter.pool}>
          <option value="">every pool</option>
          {pools.map((p) => (
            <option value={p.name} key={p.name}>
              {p.name}
            </option>
          ))}
        </select>
        <button type="submit">Filter</button>
      </form>
      {list && !list.caller.pull.allowed && list.caller.pull.reason && <p class="hint pull-refused">{list.caller.pull.reason}</p>}
      {list && list.caller.load.length > 0 && (
        <p class="hint">
          You may load images (<code>yard image load FILE</code>) named <code>{list.caller.load.join(', ')}</code>.
        </p>
      )}
      {list?.agentsWithoutImages.map((a) => (
        <p class="hint imageless" key={a.agent}>
          {a.reason}
        </p>
      ))}
      {list && list.items.length === 0 && <p class="empty">No images{filter.name || filter.pool ? ' match' : ' on the agents'}.</p>}
      {list && list.items.length > 0 && (
        <div class="table-wrap">
          <table class="images">
            <thead>
              <tr>
                <th>Repository</th>
                <th>Tag</th>
                <th>Image ID</th>
                <th class="num">Size</th>
                <th>Created</th>
                <th>Agents</th>
                <th>Pools</th>
                <th>Allowed</th>
                <th>Loaded by</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((i) => (
                <tr key={`${i.id} ${i.reference ?? ''}`} data-image={i.reference ?? i.id}>
                  <td>{i.repository}</td>
                  <td>{i.tag ?? '<none>'}</td>
                  <td>
                    <code title={i.id}>{shortImageId(i.id)}</code>
                  </td>
                  <td class="num">{size(i.size)}</td>
                  <td>{formatTime(i.created)}</td>
                  <td>{i.agents.map((a) => a.agent).join(', ')}</td>
                  <td>{i.pools.join(', ')}</td>
                  <td>{i.reference === null ? '-' : <span class={`badge ${i.allowed ? 'state-running' : 'state-failed'}`}>{i.allowed ? 'yes' : 'no'}</span>}</td>
                  <td>{i.loadedBy ?? '-'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

/** "Pull image": a reference and a pool; then each agent's progress until every one ended. */
function PullButton(props: { pools: PoolView[]; onDone: () => Promise<unknown> }) {
  const [operation, setOperation] = useState<ImageOperation>();
  const [error, setError] = useState<unknown>();
  const agentPools = props.pools.filter((p) => p.manager === 'agents');

  const follow = async (start: ImageOperation) => {
    let current = start;
    setOperation(current);
    while (!current.done) {
      current = await api('images.operation', { params: { id: current.id }, query: { wait: 20, seen: current.version } });
      setOperation(current);
    }
    await props.onDone();
  };

  const pull = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    if (!validateForm(form)) return;
    const data = new FormData(form);
    const pool = String(data.get('pool') ?? '');
    setError(undefined);
    setOperation(undefined);
    api('images.pull', { body: { image: String(data.get('image')).trim(), ...(pool ? { pool } : {}) } }).then(follow).catch(setError);
  };

  return (
    <DialogButton label="Pull image" title="Pull an image">
      {() => (
        <form class="stack" onSubmit={pull} aria-label="Pull an image" noValidate>
          {/* Browsers compile `pattern` with the v flag: `/` and `-` in a class must be escaped there. */}
          <Field label="Image" hint="A reference your policy's images.allow admits, e.g. registry.example.com:5000/team/tool:1">
            <input name="image" required size={40} pattern="[A-Za-z0-9][A-Za-z0-9._:@\/\-]*" title="an image reference such as busybox:latest" />
          </Field>
          <Field label="Pool" hint="Every agent of the pool that holds images pulls it">
            <select name="pool">
              {agentPools.map((p) => (
                <option value={p.name} key={p.name} selected={p.default}>
                  {p.name}
                </option>
              ))}
            </select>
          </Field>
          <ErrorBanner error={error} />
          {operation && (
            <ul class="pull-progress" aria-live="polite">
              {operation.agents.map((a) => (
                <li key={a.agent} data-agent={a.agent} data-state={a.state}>
                  <strong>{a.agent}</strong>: {progressOf(a)}
                </li>
              ))}
            </ul>
          )}
          {operation?.done && <p class="notice">{operation.agents.every((a) => a.state === 'done' || a.state === 'skipped') ? `Pulled ${operation.images[0]}.` : 'The pull did not succeed everywhere.'}</p>}
          <div class="dialog-actions">
            <button type="submit" disabled={operation !== undefined && !operation.done}>
              Pull
            </button>
          </div>
        </form>
      )}
    </DialogButton>
  );
}
