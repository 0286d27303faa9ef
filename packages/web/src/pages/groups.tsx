import { useEffect, useState } from 'preact/hooks';
import type { Group, GroupDetail } from '@trainyard/shared';
import { api } from '../api.js';
import { DialogButton, Feedback, Field, Page, useActions, validateForm } from '../components.js';
import { Link } from '../router.js';

/** change_config: every group, and a form to make one. */
export function GroupsPage() {
  const [groups, setGroups] = useState<Group[]>([]);
  const reload = () => api('groups.list').then((p) => setGroups(p.items), setError);
  const { error, setError, notice, act } = useActions(reload);
  useEffect(() => void reload(), []);

  const create = (close: () => void) => (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    if (!validateForm(form)) return;
    const path = String(new FormData(form).get('path'));
    void act(() => api('groups.create', { body: { path } }), `Created group ${path}.`).then((ok) => ok && close());
  };

  return (
    <Page
      title="Groups"
      actions={
        <DialogButton label="New group" title="New group">
          {(close) => (
            <form class="stack" onSubmit={create(close)} aria-label="Create group" noValidate>
              <Field label="Path" hint="A subgroup needs its parent: create research before research/vision">
                <input name="path" placeholder="group path, e.g. research/vision" required size={32} pattern="[a-z0-9][a-z0-9._\-]*(/[a-z0-9][a-z0-9._\-]*)*" title="segments of a-z, 0-9, '.', '_', '-' separated by '/'" />
              </Field>
              <Feedback error={error} notice={undefined} />
              <div class="dialog-actions">
                <button type="submit">Create group</button>
              </div>
            </form>
          )}
        </DialogButton>
      }
    >
      <Feedback error={error} notice={notice} />
      <table class="groups">
        <thead>
          <tr>
            <th>Path</th>
            <th>Members</th>
            <th>Subgroups</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr key={g.id} data-group={g.path}>
              <td>
                <Link href={`/groups/${g.path}`}>{g.path}</Link>
              </td>
              <td>{g.memberCount}</td>
              <td>{g.subgroupCount}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

/** One group: members (add, remove), what is given to it and scoped to it; rename, delete. */
export function GroupPage(props: { path: string }) {
  const [group, setGroup] = useState<GroupDetail>();
  const params = { path: props.path };
  const reload = () => api('groups.get', { params }).then(setGroup, setError);
  const { error, setError, notice, act, go } = useActions(reload);
  useEffect(() => void reload(), [props.path]);

  const addMember = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const username = String(new FormData(form).get('username'));
    void act(() => api('groups.addMember', { params, body: { username } }), `Added ${username}.`).then((ok) => ok && form.reset());
  };
  const rename = (event: Event) => {
    event.preventDefault();
    const path = String(new FormData(event.currentTarget as HTMLFormElement).get('path'));
    void go(() => api('groups.rename', { params, body: { path } }), `/groups/${path}`);
  };
  const remove = () => {
    if (window.confirm(`Delete group ${props.path}? Its members keep their accounts and tasks.`)) void go(() => api('groups.delete', { params }), '/groups');
  };

  return (
    <Page title={`Group ${props.path}`}>
      <Feedback error={error} notice={notice} />
      {group && (
        <>
          <dl class="facts">
            <dt>Parent</dt>
            <dd>{group.parent ? <Link href={`/groups/${group.parent}`}>{group.parent}</Link> : '-'}</dd>
            <dt>Subgroups</dt>
            <dd>{group.subgroups.length ? group.subgroups.map((s) => <Link href={`/groups/${s}`} key={s}>{s} </Link>) : '-'}</dd>
            <dt>Roles given to it</dt>
            <dd class="group-roles">{group.roles.map((r) => `${r.role}${r.scope ? ` (scope ${r.scope})` : ''}`).join(', ') || '-'}</dd>
            <dt>Scoped to it</dt>
            <dd>{group.scopedHere.map((r) => `${r.role} held by ${r.user ?? r.group}`).join(', ') || '-'}</dd>
            <dt>Unix group</dt>
            <dd>{group.gid === null ? '-' : `${group.unixGroup} (gid ${group.gid})`}</dd>
            <dt>Uid range</dt>
            <dd>{group.uidRange ? `${group.uidRange.start}-${group.uidRange.start + group.uidRange.size - 1}` : '-'}</dd>
            <dt>Shared directory</dt>
            <dd>{group.sharedDir ? `on, at /shared/${group.path}` : 'off'}</dd>
          </dl>
          <h2>Members</h2>
          <form class="inline" onSubmit={addMember} aria-label="Add member">
            <input name="username" aria-label="User name" placeholder="user name" required />
            <button type="submit">Add member</button>
          </form>
          <table class="members">
            <tbody>
              {group.members.map((name) => (
                <tr key={name} data-member={name}>
                  <td>{name}</td>
                  <td class="actions">
                    <button onClick={() => act(() => api('groups.removeMember', { params: { ...params, username: name } }), `Removed ${name}.`)}>Remove</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Rename or delete</h2>
          <form class="inline" onSubmit={rename} aria-label="Rename group">
            <input name="path" aria-label="New path" defaultValue={group.path} required size={32} />
            <button type="submit">Rename</button>
          </form>
          <button class="danger" onClick={remove}>
            Delete group
          </button>
        </>
      )}
    </Page>
  );
}
