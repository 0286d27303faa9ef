import { useEffect, useState } from 'preact/hooks';
import { CAPABILITIES, CAPABILITY_SUMMARIES, SCOPEABLE_CAPABILITIES } from '@trainyard/shared/constants';
import type { Role, RoleDetail } from '@trainyard/shared';
import { api } from '../api.js';
import { ErrorBanner, Page } from '../components.js';
import { Link, navigate } from '../router.js';

/** change_config: every role with what it holds, and a form to make one. */
export function RolesPage() {
  const [roles, setRoles] = useState<Role[]>([]);
  const [error, setError] = useState<unknown>();
  const reload = () => api('roles.list').then((p) => setRoles(p.items), setError);
  useEffect(() => void reload(), []);

  const create = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const name = String(data.get('name'));
    try {
      await api('roles.create', { body: { name, description: String(data.get('description') ?? ''), capabilities: data.getAll('capability').map(String) } });
      navigate(`/roles/${name}`);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <Page title="Roles">
      <ErrorBanner error={error} />
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
      <h2>New role</h2>
      <form class="stack" onSubmit={create} aria-label="Create role">
        <input name="name" placeholder="role name" required />
        <input name="description" placeholder="what it is for" />
        <fieldset>
          <legend>Capabilities</legend>
          {CAPABILITIES.map((c) => (
            <label key={c} title={CAPABILITY_SUMMARIES[c]}>
              <input type="checkbox" name="capability" value={c} /> {c}
            </label>
          ))}
        </fieldset>
        <button type="submit">Create role</button>
      </form>
    </Page>
  );
}

/** One role: its capabilities and who holds it; assign, unassign, delete. */
export function RolePage(props: { name: string }) {
  const [role, setRole] = useState<RoleDetail>();
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const params = { name: props.name };
  const reload = () => api('roles.get', { params }).then(setRole, setError);
  useEffect(() => void reload(), [props.name]);

  const act = async (what: () => Promise<unknown>, done: string) => {
    setError(undefined);
    setNotice(undefined);
    try {
      await what();
      setNotice(done);
      await reload();
    } catch (err) {
      setError(err);
    }
  };
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
  const remove = async () => {
    try {
      await api('roles.delete', { params });
      navigate('/roles');
    } catch (err) {
      setError(err);
    }
  };

  return (
    <Page title={`Role ${props.name}`}>
      <ErrorBanner error={error} />
      {notice && <p class="notice">{notice}</p>}
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
