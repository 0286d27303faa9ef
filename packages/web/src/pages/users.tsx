import { useEffect, useState } from 'preact/hooks';
import type { MeResponse, User } from '@trainyard/shared';
import { can } from '../access.js';
import { api } from '../api.js';
import { Feedback, Page, useActions } from '../components.js';
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

  const create = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const username = String(data.get('username'));
    void act(
      () => api('users.create', { body: { username, password: String(data.get('password') ?? ''), admin: data.get('admin') === 'on' } }),
      `Created ${username}.`,
    ).then(() => form.reset());
  };

  const link = (user: User) => (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    void act(
      () =>
        api('users.link', {
          params: { username: user.username },
          body: { uid: Number(data.get('uid')), user: String(data.get('user')), gid: Number(data.get('gid')), group: String(data.get('group')) },
        }),
      `Linked ${user.username}.`,
    );
  };

  return (
    <Page title="Users">
      <Feedback error={error} notice={notice} />
      <form class="inline" onSubmit={create} aria-label="Create user">
        <input name="username" placeholder="new user name" required />
        <input name="password" type="password" placeholder="password (optional)" autoComplete="new-password" />
        <label>
          <input type="checkbox" name="admin" /> admin
        </label>
        <button type="submit">Create user</button>
      </form>
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
                  <form class="inline link" onSubmit={link(u)} aria-label={`Link ${u.username}`}>
                    <input name="uid" placeholder="uid" size={6} required />
                    <input name="user" placeholder="user" size={8} required />
                    <input name="gid" placeholder="gid" size={6} required />
                    <input name="group" placeholder="group" size={8} required />
                    <button type="submit">Link</button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
