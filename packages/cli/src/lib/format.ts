import type { UnixIdentity, User } from '@trainyard/shared';
import { renderTable } from './table.js';

export const formatIdentity = (id: UnixIdentity | null | undefined): string =>
  id ? `${id.user}:${id.group} (${id.uid}:${id.gid})` : '';

export const yesNo = (value: boolean) => (value ? 'yes' : 'no');

export function usersTable(users: User[]): string {
  return renderTable(users, [
    { header: 'NAME', get: (u) => u.username },
    { header: 'ADMIN', get: (u) => yesNo(u.admin) },
    { header: 'ACTIVE', get: (u) => yesNo(u.active) },
    { header: 'AUTH', get: (u) => u.auth },
    { header: 'AGENT USER', get: (u) => formatIdentity(u.agentUser) },
    { header: 'ROLES', get: (u) => u.roles.map((r) => (r.scope ? `${r.role}@${r.scope}` : r.role)).join(',') },
    { header: 'GROUPS', get: (u) => u.groups.join(',') },
  ]);
}

