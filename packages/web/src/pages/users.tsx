import { useEffect, useState } from 'preact/hooks';
import type { MeResponse, User } from '@trainyard/shared';
import { can } from '../access.js';
import { api } from '../api.js';
import { DialogButton, Feedback, Field, Page, useActions, validateForm } from '../components.js';
import { Link } from '../router.js';

/** change_config: create users, activate/deactivate, reset passwords, link/unlink agent users; see roles and groups. */
export function UsersPage(props: { me: MeResponse }) {
  const [users, setUsers] = useState<User[]>([]);
  const reload = () => api('users.list', { query: { limit: 500 } }).then((p) => setUsers(p.items), setError);
  const { error, setError, notice, act } = useActions(reload);
  useEffect(() => void reload(), []);

  if (!can(props.me, 'change_config')) {
    return (
      <Page title="Users">
        <p class="error">Managing users needs change_config.</p>
      </Page>
    );
  }

  const create = (close: () => void) => (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    if (!validateForm(form)) return;
    const data = new FormData(form);
    const username = String(data.get('username'));
    void act(
      () => api('users.create', { body: { username, password: String(data.get('password') ?? ''), admin: data.get('admin') === 'on' } }),
      `Created ${username}.`,
    ).then((ok) => ok && close());
  };

  const link = (user: User, close: () => void) => (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    if (!validateForm(form)) return;
    const data = new FormData(form);
    void act(
      () =>
        api('users.link', {
          params: { username: user.username },
          body: { uid: Number(data.get('uid')), user: String(data.get('user')), gid: Number(data.get('gid')), group: String(data.get('group')) },
        }),
      `Linked ${user.username}.`,
    ).then((ok) => ok && close());
  };

  return (
    <Page
      title="Users"
      actions={
        <DialogButton label="New user" title="New user">
          {(close) => (
            <form class="stack" onSubmit={create(close)} aria-label="Create user" noValidate>
              <Field label="User name" hint="1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit">
                <input name="username" placeholder="new user name" required pattern="[a-z0-9][a-z0-9._\-]{0,63}" title="1-64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit" />
              </Field>
              <Field label="Password" hint="Blank: the user signs in without one until it is set">
                <input name="password" type="password" placeholder="password (optional)" autoComplete="new-password" />
              </Field>
              <label class="toggle">
                <input type="checkbox" name="admin" /> admin
              </label>
              <Feedback error={error} notice={undefined} />
              <div class="dialog-actions">
                <button type="submit">Create user</button>
              </div>
            </form>
          )}
        </DialogButton>
      }
    >
      <Feedback error={error} notice={notice} />
      <div class="table-wrap" tabIndex={0}>
      <table class="users">
        <thead>
          <tr>
            <th>Name</th>
            <th>Active</th>
            <th>Roles</th>
            <th>Groups</th>
            <th>Auth</th>
            <th>Agent user</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} data-user={u.username}>
              <td>{u.username}</td>
              <td class="active">{u.active ? 'yes' : 'no'}</td>
              <td class="roles">
                {u.roles.map((r) => (
                  <span class="tag" key={`${r.role}@${r.scope ?? ''}`}>
                    <Link href={`/roles/${r.role}`}>{r.role}</Link>
                    {r.scope ? ` (scope ${r.scope})` : ''}
                  </span>
                ))}
              </td>
              <td class="groups">
                {u.groups.map((g) => (
                  <span class="tag" key={g}>
                    <Link href={`/groups/${g}`}>{g}</Link>
                  </span>
                ))}
              </td>
              <td class="auth">{u.auth}</td>
              <td>{u.agentUser ? `${u.agentUser.user}:${u.agentUser.group} (${u.agentUser.uid}:${u.agentUser.gid})` : '-'}</td>
              <td class="actions">
                <button onClick={() => act(() => api('users.update', { params: { username: u.username }, body: { active: !u.active } }), `${u.username} is now ${u.active ? 'deactivated' : 'active'}.`)}>
                  {u.active ? 'Deactivate' : 'Activate'}
                </button>
                {u.auth === 'internal' && (
                  <button
                    onClick={() => {
                      const password = window.prompt(`New password for ${u.username}`);
                      if (password !== null) void act(() => api('users.setPassword', { params: { username: u.username }, body: { password } }), `Reset the password of ${u.username}.`);
                    }}
                  >
                    Reset password
                  </button>
                )}
                {u.agentUser ? (
                  <button onClick={() => act(() => api('users.unlink', { params: { username: u.username } }), `Unlinked ${u.username}.`)}>Unlink</button>
                ) : (
                  <DialogButton label="Link" title={`Link ${u.username} with an agent user`} class="">
                    {(close) => (
                      <form class="stack" onSubmit={link(u, close)} aria-label={`Link ${u.username}`} noValidate>
                        <p class="hint">Tasks of {u.username} will run as this Unix identity on the agents.</p>
                        <Field label="uid">
                          <input name="uid" inputMode="numeric" pattern="\d{1,10}" title="a number" required />
                        </Field>
                        <Field label="User name">
                          <input name="user" required pattern="[A-Za-z_][A-Za-z0-9_.\-]{0,31}" title="a Unix user name" />
                        </Field>
                        <Field label="gid">
                          <input name="gid" inputMode="numeric" pattern="\d{1,10}" title="a number" required />
                        </Field>
                        <Field label="Group name">
                          <input name="group" required pattern="[A-Za-z_][A-Za-z0-9_.\-]{0,31}" title="a Unix group name" />
                        </Field>
                        <Feedback error={error} notice={undefined} />
                        <div class="dialog-actions">
                          <button type="submit">Link</button>
                        </div>
                      </form>
                    )}
                  </DialogButton>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </Page>
  );
}
