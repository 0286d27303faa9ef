import type { UnixIdentity, User } from '@trainyard/shared';
import type { View } from './output.js';
import { formatTime } from './task-format.js';

export const formatIdentity = (id: UnixIdentity | null | undefined): string =>
  id ? `${id.user}:${id.group} (${id.uid}:${id.gid})` : '';

export const yesNo = (value: boolean) => (value ? 'yes' : 'no');

export const usersView: View<User> = {
  name: (u) => u.username,
  columns: [
    { header: 'NAME', field: 'username', get: (u) => u.username },
    { header: 'ADMIN', field: 'admin', get: (u) => yesNo(u.admin), raw: (u) => u.admin },
    { header: 'ACTIVE', field: 'active', get: (u) => yesNo(u.active), raw: (u) => u.active, style: (u) => (u.active ? undefined : 'gray') },
    { header: 'AUTH', field: 'auth', get: (u) => u.auth },
    { header: 'AGENT USER', field: 'agentUser', get: (u) => formatIdentity(u.agentUser) },
    { header: 'ROLES', field: 'roles', get: (u) => u.roles.map((r) => (r.scope ? `${r.role}@${r.scope}` : r.role)).join(',') },
    { header: 'GROUPS', field: 'groups', get: (u) => u.groups.join(',') },
    { header: 'DEFAULT GROUP', field: 'defaultGroup', get: (u) => u.defaultGroup, wide: true },
    { header: 'CREATED', field: 'createdAt', get: (u) => formatTime(u.createdAt), raw: (u) => u.createdAt, wide: true },
  ],
};
