import { useEffect, useState } from 'preact/hooks';
import { CAPABILITIES, CAPABILITY_SUMMARIES, SCOPEABLE_CAPABILITIES } from '@trainyard/shared/constants';
import type { Role, RoleDetail } from '@trainyard/shared';
import { api } from '../api.js';
import { DialogButton, Feedback, Field, Page, useActions, validateForm } from '../components.js';
import { Link } from '../router.js';

/** change_config: every role with what it holds, and a form to make one. */
export function RolesPage() {
  const [roles, setRoles] = useState<Role[]>([]);
  const reload = () => api('roles.list').then((p) => setRoles(p.items), setError);
  const { error, setError, notice, go } = useActions(reload);
  useEffect(() => void reload(), []);

  const create = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    if (!validateForm(form)) return;
    const data = new FormData(form);
    const name = String(data.get('name'));
    const body = { name, description: String(data.get('description') ?? ''), capabilities: data.getAll('capability').map(String) };
    void go(() => api('roles.create', { body }), `/roles/${name}`);
  };

  return (
    <Page
      title="Roles"
      actions={
        <DialogButton label="New role" title="New role">
          {() => (
            <form class="stack" onSubmit={create} aria-label="Create role" noValidate>
              <Field label="Name">
                <input name="name" placeholder="role name" required pattern="[a-z0-9][a-z0-9._\-]{0,63}" title="1-64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit" />
              </Field>
              <Field label="Description">
                <input name="description" placeholder="what it is for" />
              </Field>
              <fieldset>
                <legend>Capabilities</legend>
                {CAPABILITIES.map((c) => (
                  <label key={c}>
                    <input type="checkbox" name="capability" value={c} />
                    <span>
                      <strong>{c}</strong> <span class="muted">{CAPABILITY_SUMMARIES[c]}</span>
                    </span>
                  </label>
                ))}
              </fieldset>
              <Feedback error={error} notice={undefined} />
              <div class="dialog-actions">
                <button type="submit">Create role</button>
              </div>
            </form>
          )}
        </DialogButton>
      }
    >
      <Feedback error={error} notice={notice} />
      <table class="roles">
        <thead>
          <tr>
            <th>Name</th>
            <th>Capabilities</th>
            <th>Assigned</th>
            <th>Description</th>
          </tr>
        </thead>
        <tbody>
          {roles.map((r) => (
            <tr key={r.name} data-role={r.name}>
              <td>
                <Link href={`/roles/${r.name}`}>{r.name}</Link>
                {r.builtin ? ' (built in)' : ''}
              </td>
              <td>{r.capabilities.join(', ') || '-'}</td>
              <td>{r.assignmentCount}</td>
              <td>{r.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

/** One role: its capabilities and who holds it; assign, unassign, delete. */
export function RolePage(props: { name: string }) {
  const [role, setRole] = useState<RoleDetail>();
  const params = { name: props.name };
  const reload = () => api('roles.get', { params }).then(setRole, setError);
  const { error, setError, notice, act, go } = useActions(reload);
  useEffect(() => void reload(), [props.name]);

  const assign = (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const kind = String(data.get('kind'));
    const who = String(data.get('who'));
    const scope = String(data.get('scope') ?? '').trim();
    void act(
      () => api('roles.assign', { params, body: { [kind === 'group' ? 'group' : 'user']: who, ...(scope ? { scope } : {}) } }),
      `Gave ${props.name} to ${kind} ${who}${scope ? `, scoped to ${scope}` : ''}.`,
    );
  };
  const remove = () => void go(() => api('roles.delete', { params }), '/roles');

  return (
    <Page title={`Role ${props.name}`}>
      <Feedback error={error} notice={notice} />
      {role && (
        <>
          <dl class="facts">
            <dt>Capabilities</dt>
            <dd class="role-capabilities">{role.capabilities.join(', ') || 'none'}</dd>
            <dt>Description</dt>
            <dd>{role.description || '-'}</dd>
          </dl>
          <h2>Held by</h2>
          <table class="assignments">
            <tbody>
              {role.assignments.map((a) => {
                const query = { ...(a.user ? { user: a.user } : { group: a.group ?? '' }), ...(a.scope ? { scope: a.scope } : {}) };
                const holder = a.user ? `user ${a.user}` : `group ${a.group}`;
                return (
                  <tr key={a.id} data-holder={holder}>
                    <td>{holder}</td>
                    <td>{a.scope ? `scope ${a.scope}` : 'everyone'}</td>
                    <td class="actions">
                      <button onClick={() => act(() => api('roles.unassign', { params, query }), `Took ${props.name} from ${holder}.`)}>Unassign</button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <form class="inline" onSubmit={assign} aria-label="Assign role">
            <select name="kind" aria-label="to a">
              <option value="user">user</option>
              <option value="group">group</option>
            </select>
            <input name="who" placeholder="user name or group path" required />
            <input name="scope" placeholder={`scope (only ${SCOPEABLE_CAPABILITIES.join(', ')})`} size={30} />
            <button type="submit">Assign</button>
          </form>
          {!role.builtin && (
            <button class="danger" onClick={remove}>
              Delete role
            </button>
          )}
        </>
      )}
    </Page>
  );
}
