import { useEffect, useState } from 'preact/hooks';
import type { TaskState, TaskSummary } from '@trainyard/shared';
import { describeKillRequest, displayState, explainPendingReason, formatByteSize, TASK_SECTIONS, TASK_STATES } from '@trainyard/shared/constants';
import { proxyPath, SERVICE_KINDS } from '@trainyard/shared/interactive';
import { api } from '../api.js';
import { ErrorBanner, formatDuration, formatTime, Page, StateBadge } from '../components.js';
import { Link } from '../router.js';

type SortKey = 'id' | 'owner' | 'name' | 'state' | 'group' | 'created' | 'duration' | 'exit';

const durationOf = (t: TaskSummary) => (t.startedAt ? (t.endedAt ? Date.parse(t.endedAt) : Date.now()) - Date.parse(t.startedAt) : null);
const SORTS: Record<SortKey, (t: TaskSummary) => string | number> = {
  id: (t) => t.id,
  owner: (t) => t.owner,
  name: (t) => t.name.toLowerCase(),
  state: (t) => t.state,
  group: (t) => t.group ?? '',
  created: (t) => Date.parse(t.createdAt),
  duration: (t) => durationOf(t) ?? -1,
  exit: (t) => t.exitCode ?? -1,
};

const resourcesText = (t: TaskSummary) =>
  [t.resources.gpus ? `${t.resources.gpus} GPU` : '', t.resources.cpu ? `${t.resources.cpu} CPU` : '', t.resources.memory ? formatByteSize(t.resources.memory) : '']
    .filter(Boolean)
    .join(' · ') || '-';

/**
 * One tab: the tasks of one kind, newest first, a page at a time (keyset pages from the master, so
 * they go past any size); filtered by the master (state, name, only mine); sortable within the page.
 */
export function TaskListPage(props: { section: string }) {
  const kind = TASK_SECTIONS[props.section]!;
  const [onlyMine, setOnlyMine] = useState(true);
  const [states, setStates] = useState<TaskState[]>([]);
  const [text, setText] = useState('');
  const [name, setName] = useState('');
  const [limit, setLimit] = useState(50);
  // Keyset pages: the cursor of each page seen so far (the first has none).
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [pageIndex, setPageIndex] = useState(0);
  // The page shown, with where it was loaded for: until the next one arrives the old one stays on
  // screen, and its own numbers (not the page asked for) label it and move from it.
  const [page, setPage] = useState<{ items: TaskSummary[]; next: string | null; index: number; first: number; filters: string }>();
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({ key: 'id', descending: true });
  const [error, setError] = useState<unknown>();

  // The name filter is sent once typing pauses.
  useEffect(() => {
    const timer = setTimeout(() => setName(text.trim()), 300);
    return () => clearTimeout(timer);
  }, [text]);
  // What the master is asked to filter by, as one key: any change of it starts again at the first page.
  const filters = [kind, onlyMine, states.join(','), name, limit].join('|');
  useEffect(() => {
    setCursors([undefined]);
    setPageIndex(0);
  }, [filters]);

  useEffect(() => {
    let live = true;
    const after = cursors[pageIndex];
    const loadedFor = { index: pageIndex, first: pageIndex * limit + 1, filters };
    const load = () =>
      api('tasks.list', {
        query: {
          kind,
          all: !onlyMine,
          limit,
          ...(after ? { after } : {}),
          ...(states.length ? { state: states.join(',') } : {}),
          ...(name ? { name: /[*?]/.test(name) ? name : `*${name}*` } : {}),
        },
      })
        .then((p) => live && (setPage({ ...p, ...loadedFor }), setError(undefined)))
        .catch((err) => live && setError(err));
    void load();
    const timer = setInterval(load, 5000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [filters, pageIndex, cursors[pageIndex]]);

  const toggleState = (state: TaskState, on: boolean) => setStates((old) => (on ? [...old, state] : old.filter((s) => s !== state)));
  // Still showing another page than the one asked for (its answer is on its way).
  const loading = !page || page.index !== pageIndex || page.filters !== filters;
  const next = () => {
    if (loading || !page.next) return;
    setCursors((old) => [...old.slice(0, page.index + 1), page.next!]);
    setPageIndex(page.index + 1);
  };
  const rows = [...(page?.items ?? [])].sort((a, b) => {
    const [x, y] = [SORTS[sort.key](a), SORTS[sort.key](b)];
    const order = x < y ? -1 : x > y ? 1 : 0;
    return sort.descending ? -order : order;
  });
  const header = (key: SortKey, label: string, numeric = false) => (
    <th scope="col" class={numeric ? 'num' : ''} aria-sort={sort.key === key ? (sort.descending ? 'descending' : 'ascending') : 'none'}>
      <button type="button" class="sort" onClick={() => setSort({ key, descending: sort.key === key ? !sort.descending : key === 'id' || key === 'created' })}>
        {label}
        <span aria-hidden="true">{sort.key === key ? (sort.descending ? ' ▼' : ' ▲') : ''}</span>
      </button>
    </th>
  );
  const title = props.section[0]!.toUpperCase() + props.section.slice(1);

  return (
    <Page title={title}>
      <form class="toolbar filters" aria-label="List options" onSubmit={(e) => e.preventDefault()}>
        <label class="field inline search">
          <span class="field-label">Filter</span>
          <input type="search" name="filter" placeholder="name, * and ? as wildcards" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label class="toggle">
          <input type="checkbox" name="only-mine" checked={onlyMine} onChange={(e) => setOnlyMine(e.currentTarget.checked)} /> Show only mine
        </label>
        <fieldset class="chips">
          <legend>State</legend>
          {TASK_STATES.map((s) => (
            <label key={s} class={`chip state-${s.toLowerCase()}`}>
              <input type="checkbox" name="state" value={s} checked={states.includes(s)} onChange={(e) => toggleState(s, e.currentTarget.checked)} />
              {s.toLowerCase()}
            </label>
          ))}
        </fieldset>
      </form>
      <ErrorBanner error={error} />
      {page && page.items.length === 0 && (
        <p class="empty">{pageIndex === 0 && !name && states.length === 0 ? `No ${props.section} yet.` : `No ${props.section} match.`}</p>
      )}
      {page && page.items.length > 0 && (
        <div class="table-wrap" tabIndex={0}>
          <table class="tasks">
            <thead>
              <tr>
                {header('id', 'ID', true)}
                {header('owner', 'Owner')}
                {header('name', 'Name')}
                {header('state', 'State')}
                {header('group', 'Group')}
                <th scope="col">Pool</th>
                <th scope="col">Resources</th>
                {header('created', 'Created')}
                {header('duration', 'Duration', true)}
                {header('exit', 'Exit', true)}
                {SERVICE_KINDS.includes(kind) && (
                  <th scope="col">
                    <span class="visually-hidden">Open</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <tr key={t.id} data-task-id={t.id} data-state={t.state}>
                  <td class="num">
                    <Link href={`/${props.section}/${t.id}`}>{t.id}</Link>
                  </td>
                  <td>{t.owner}</td>
                  <td class="name">{t.name}</td>
                  <td class={`state state-${displayState(t).toLowerCase()}`}>
                    <StateBadge state={displayState(t)} />
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
                  <td>{t.group ?? '-'}</td>
                  <td>{t.pool}</td>
                  <td class="resources">{resourcesText(t)}</td>
                  <td>
                    <time dateTime={t.createdAt}>{formatTime(t.createdAt)}</time>
                  </td>
                  <td class="num">{formatDuration(durationOf(t))}</td>
                  <td class="num">{t.exitCode ?? '-'}</td>
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
        </div>
      )}
      {page && (page.items.length > 0 || pageIndex > 0) && (
        <nav class="pager" aria-label="Pages" aria-busy={loading}>
          <button type="button" disabled={pageIndex === 0} onClick={() => setPageIndex(pageIndex - 1)}>
            Previous
          </button>
          <span class="pager-status" aria-live="polite">
            Rows {page.items.length ? page.first : 0}–{page.first + page.items.length - 1}
            {page.next ? '' : ' (the last)'}
          </span>
          <button type="button" disabled={loading || !page.next} onClick={next}>
            Next
          </button>
          <label class="field inline">
            <span class="field-label">Per page</span>
            <select name="limit" value={String(limit)} onChange={(e) => setLimit(Number(e.currentTarget.value))}>
              {[25, 50, 100, 200].map((n) => (
                <option key={n} value={String(n)}>
                  {n}
                </option>
              ))}
            </select>
          </label>
        </nav>
      )}
    </Page>
  );
}
