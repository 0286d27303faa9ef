import { useEffect, useState } from 'preact/hooks';
import type { MeResponse, Quota, QuotaRequest, QuotaUsage } from '@trainyard/shared';
import { formatQuotaLimits, formatUsageAmount } from '@trainyard/shared/constants';
import { can } from '../access.js';
import { api } from '../api.js';
import { Link } from '../router.js';
import { DialogButton, ErrorBanner, Feedback, Field, Page, useActions } from '../components.js';

/** Form fields to a request: blank fields are left out (create) or, with `clear`, removed (edit: "none"). */
function requestFrom(data: FormData): QuotaRequest {
  const request: QuotaRequest = {};
  const text = (key: string) => String(data.get(key) ?? '').trim();
  const number = (key: string) => (text(key) === 'none' ? null : Number(text(key)));
  if (text('maxRunning')) request.maxRunning = number('maxRunning');
  if (text('maxSubmitted')) request.maxSubmitted = number('maxSubmitted');
  if (text('cpu')) request.cpu = number('cpu');
  if (text('gpus')) request.gpus = number('gpus');
  if (text('memory')) request.memory = text('memory') === 'none' ? null : text('memory');
  if (text('maxRuntime')) request.maxRuntime = text('maxRuntime') === 'none' ? null : text('maxRuntime');
  if (data.get('denyOnLimit') !== null) request.denyOnLimit = data.get('denyOnLimit') === 'on';
  return request;
}

function LimitInputs() {
  return (
    <>
      <Field label="Max running">
        <input name="maxRunning" placeholder="max running" size={10} />
      </Field>
      <Field label="Max submitted">
        <input name="maxSubmitted" placeholder="max submitted" size={12} />
      </Field>
      <Field label="CPUs">
        <input name="cpu" placeholder="cpu" size={6} />
      </Field>
      <Field label="Memory">
        <input name="memory" placeholder="memory (64GiB)" size={14} />
      </Field>
      <Field label="GPUs">
        <input name="gpus" placeholder="gpus" size={6} />
      </Field>
      <Field label="Max runtime">
        <input name="maxRuntime" placeholder="max runtime (8h)" size={14} />
      </Field>
    </>
  );
}

/** see_status or change_config: every quota with its limits and holders; change_config holders also edit them. */
export function QuotasPage(props: { me: MeResponse }) {
  const editable = can(props.me, 'change_config');
  const [quotas, setQuotas] = useState<Quota[]>([]);
  const reload = () => api('quotas.list').then((p) => setQuotas(p.items), setError);
  const { error, setError, notice, act } = useActions(reload);
  useEffect(() => void reload(), []);

  const create = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const name = String(data.get('name'));
    void act(() => api('quotas.create', { body: { name, ...requestFrom(data) } }), `Created quota ${name}.`).then((ok) => ok && form.reset());
  };
  const update = (name: string) => (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    void act(() => api('quotas.update', { params: { name }, body: requestFrom(data) }), `Changed quota ${name}.`);
  };
  const assign = (name: string) => (event: Event) => {
    event.preventDefault();
    const who = String(new FormData(event.currentTarget as HTMLFormElement).get('who')).trim();
    const body = who.startsWith('group:') ? { group: who.slice('group:'.length) } : { user: who };
    void act(() => api('quotas.assign', { params: { name }, body }), `Assigned ${name} to ${who}.`);
  };

  return (
    <Page
      title="Quotas"
      actions={
        editable && (
          <DialogButton label="New quota" title="New quota">
            {() => (
              <>
                <p class="hint">Blank: no limit.</p>
                <form class="stack" onSubmit={create} aria-label="Create quota">
                  <Field label="Name">
                    <input name="name" placeholder="quota name" required />
                  </Field>
                  <LimitInputs />
                  <label class="toggle">
                    <input type="checkbox" name="denyOnLimit" /> refuse instead of queueing (deny on limit)
                  </label>
                  <Feedback error={error} notice={undefined} />
                  <div class="dialog-actions">
                    <button type="submit">Create quota</button>
                  </div>
                </form>
              </>
            )}
          </DialogButton>
        )
      }
    >
      <Feedback error={error} notice={notice} />
      {quotas.length === 0 && <p class="empty">No quotas.</p>}
      {quotas.length > 0 && (
        <table class="quotas">
          <thead>
            <tr>
              <th>Name</th>
              <th>Limits</th>
              <th>Deny on limit</th>
              <th>Assigned to</th>
              {editable && <th>Change</th>}
            </tr>
          </thead>
          <tbody>
            {quotas.map((q) => (
              <tr key={q.name} data-quota={q.name}>
                <td>{q.name}</td>
                <td>{formatQuotaLimits(q) || '-'}</td>
                <td>{q.denyOnLimit ? 'yes' : 'no'}</td>
                <td>
                  {q.assignments.map((a) => (
                    <span class="holder" key={`${a.user}:${a.group}`}>
                      {a.user ?? `group ${a.group}`}
                      {editable && (
                        <button
                          class="link"
                          title="unassign"
                          onClick={() => void act(() => api('quotas.unassign', { params: { name: q.name }, query: a.user ? { user: a.user } : { group: a.group! } }), `Unassigned.`)}
                        >
                          ×
                        </button>
                      )}{' '}
                    </span>
                  ))}
                </td>
                {editable && (
                  <td class="actions">
                    <DialogButton label="Edit" title={`Quota ${q.name}`} class="">
                      {() => (
                        <>
                          <p class="hint">Blank: unchanged. "none" removes a limit; lowering one never stops running tasks.</p>
                          <form class="stack" onSubmit={update(q.name)} aria-label={`Change ${q.name}`}>
                            <LimitInputs />
                            <div class="dialog-actions">
                              <button type="submit">Set</button>
                            </div>
                          </form>
                          <h3>Assign</h3>
                          <form class="inline" onSubmit={assign(q.name)} aria-label={`Assign ${q.name}`}>
                            <Field label="To">
                              <input name="who" placeholder="user, or group:PATH" required size={18} />
                            </Field>
                            <button type="submit">Assign</button>
                          </form>
                          <Feedback error={error} notice={notice} />
                        </>
                      )}
                    </DialogButton>
                    <button type="button" class="danger" onClick={() => void act(() => api('quotas.delete', { params: { name: q.name } }), `Deleted ${q.name}.`)}>
                      Delete
                    </button>
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

/** Everyone: the quotas covering me (mine and my groups'), used against each limit, and my fair-share usage. */
export function QuotaUsagePage(props: { me: MeResponse }) {
  const [usage, setUsage] = useState<QuotaUsage>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api('quotas.usage', { query: {} }).then(setUsage, setError);
  }, []);
  const rows = usage?.quotas.flatMap((q) => q.lines.map((line) => ({ q, line }))) ?? [];
  return (
    <Page title={`Quotas and fair share of ${props.me.user.username}`}>
      <p class="hint">
        What you ran, in GPU- and CPU-hours over time: <Link href="/usage">the usage page</Link>.
      </p>
      <ErrorBanner error={error} />
      {usage && rows.length === 0 && <p class="empty">No quota covers you.</p>}
      {rows.length > 0 && (
        <table class="usage">
          <thead>
            <tr>
              <th>Quota</th>
              <th>Via</th>
              <th>Resource</th>
              <th>Used</th>
              <th>Limit</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ q, line }) => (
              <tr key={`${q.quota}:${q.via}:${line.resource}`} data-quota={q.quota} data-resource={line.resource}>
                <td>{q.quota}</td>
                <td>{q.via}</td>
                <td>{line.resource}</td>
                <td>{formatUsageAmount(line, line.used)}</td>
                <td>
                  {formatUsageAmount(line, line.limit)}
                  {q.denyOnLimit ? ' (refuses beyond)' : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {usage?.fairShare && (
        <p class="fair-share">
          Recent usage (decayed): {Math.round(usage.fairShare.cpuSeconds)} CPU-seconds, {Math.round(usage.fairShare.gpuSeconds)} GPU-seconds. Under
          fair share, people with less recent usage go first.
        </p>
      )}
    </Page>
  );
}
