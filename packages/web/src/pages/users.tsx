import { useEffect, useState } from 'preact/hooks';
import type { MeResponse, Page as ApiPage, User } from '@trainyard/shared';
import { api } from '../api.js';
import { ErrorBanner, Page } from '../components.js';

/** Admins: create users, activate/deactivate, reset passwords, link/unlink agent users. */
export function UsersPage(props: { me: MeResponse }) {
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const reload = () => api<ApiPage<User>>('GET', '/users?limit=500').then((p) => setUsers(p.items), setError);
  useEffect(() => void reload(), []);

  if (!props.me.user.admin) {
    return (
      <Page title="Users">
        <p class="error">Only admins manage users.</p>
      </Page>
    );
  }

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

  const create = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const username = String(data.get('username'));
    void act(
      () => api('POST', '/users', { username, password: String(data.get('password') ?? ''), admin: data.get('admin') === 'on' }),
      `Created ${username}.`,
    ).then(() => form.reset());
  };

  const link = (user: User) => (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    void act(
      () =>
        api('PUT', `/users/${user.username}/agent-user`, {
          uid: Number(data.get('uid')),
          user: String(data.get('user')),
          gid: Number(data.get('gid')),
          group: String(data.get('group')),
        }),
      `Linked ${user.username}.`,
    );
  };

  return (
    <Page title="Users">
      <ErrorBanner error={error} />
      {notice && <p class="notice">{notice}</p>}
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
            <th>Admin</th>
            <th>Active</th>
            <th>Auth</th>
            <th>Agent user</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} data-user={u.username}>
              <td>{u.username}</td>
              <td>{u.admin ? 'yes' : 'no'}</td>
              <td class="active">{u.active ? 'yes' : 'no'}</td>
              <td class="auth">{u.auth}</td>
              <td>{u.agentUser ? `${u.agentUser.user}:${u.agentUser.group} (${u.agentUser.uid}:${u.agentUser.gid})` : '-'}</td>
              <td class="actions">
                <button onClick={() => act(() => api('PATCH', `/users/${u.username}`, { active: !u.active }), `${u.username} is now ${u.active ? 'deactivated' : 'active'}.`)}>
                  {u.active ? 'Deactivate' : 'Activate'}
                </button>
                {u.auth === 'internal' && (
                  <button
                    onClick={() => {
                      const password = window.prompt(`New password for ${u.username}`);
                      if (password !== null) void act(() => api('POST', `/users/${u.username}/password`, { password }), `Reset the password of ${u.username}.`);
                    }}
                  >
                    Reset password
                  </button>
                )}
                {u.agentUser ? (
                  <button onClick={() => act(() => api('DELETE', `/users/${u.username}/agent-user`), `Unlinked ${u.username}.`)}>Unlink</button>
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
