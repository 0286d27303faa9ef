import type {
  ApiTokenInfo,
  AuditEntry,
  EffectiveCapability,
  Group,
  GroupDetail,
  Role,
  RoleAssignment,
  RoleDetail,
  SessionListItem,
  UserAccess,
} from '@trainyard/shared';
import { escapeText } from './escape.js';
import { formatIdentity, yesNo } from './format.js';
import type { View } from './output.js';
import { renderTable } from './table.js';
import { formatTime } from './task-format.js';

/** "operator", or "operator (scope research/vision)". */
const withScope = (role: string, scope: string | null) => (scope ? `${role} (scope ${scope})` : role);
const holder = (a: RoleAssignment) => (a.user ? `user ${a.user}` : `group ${a.group}`);

export const groupsView: View<Group> = {
  name: (g) => g.path,
  columns: [
    { header: 'PATH', field: 'path', get: (g) => g.path },
    { header: 'MEMBERS', field: 'memberCount', get: (g) => g.memberCount },
    { header: 'SUBGROUPS', field: 'subgroupCount', get: (g) => g.subgroupCount },
    { header: 'GID', field: 'gid', get: (g) => (g.gid === null ? '-' : `${g.gid} (${g.unixGroup})`), raw: (g) => g.gid },
    { header: 'UID RANGE', field: 'uidRange', get: (g) => (g.uidRange ? `${g.uidRange.start}/${g.uidRange.size}` : '-') },
    { header: 'SHARED', field: 'sharedDir', get: (g) => (g.sharedDir ? 'on' : 'off'), raw: (g) => g.sharedDir },
    { header: 'CREATED', field: 'createdAt', get: (g) => formatTime(g.createdAt), raw: (g) => g.createdAt },
  ],
};

export function describeGroup(group: GroupDetail): string {
  return fields([
    ['Path', group.path],
    ['Parent', group.parent],
    ['Members', group.members.join(', ')],
    ['Subgroups', group.subgroups.join(', ')],
    ['Roles', group.roles.map((a) => withScope(a.role, a.scope)).join(', ')],
    ['Scoped here', group.scopedHere.map((a) => `${a.role} held by ${holder(a)}`).join(', ')],
    ['Unix group', group.gid === null ? null : `${group.unixGroup} (gid ${group.gid})`],
    ['Uid range', group.uidRange && `${group.uidRange.start}/${group.uidRange.size} (${group.uidRange.start}-${group.uidRange.start + group.uidRange.size - 1})`],
    ['Member uids', group.allocatedUids.map((u) => `${u.username}=${u.uid}`).join(', ')],
    ['Shared dir', group.sharedDir ? `on: <shared_root>/${group.path} at /shared/${group.path}` : 'off'],
    ['Default pool', group.defaultPool ?? "(the master's default_pool)"],
    ['Fair-share weight', group.fairShareWeight],
    ['Created', formatTime(group.createdAt)],
  ]);
}

export const rolesView: View<Role> = {
  name: (r) => r.name,
  columns: [
    { header: 'NAME', field: 'name', get: (r) => r.name },
    { header: 'BUILT IN', field: 'builtin', get: (r) => yesNo(r.builtin), raw: (r) => r.builtin },
    { header: 'ASSIGNED', field: 'assignmentCount', get: (r) => r.assignmentCount },
    { header: 'CAPABILITIES', field: 'capabilities', get: (r) => r.capabilities.join(',') },
    { header: 'DESCRIPTION', field: 'description', get: (r) => r.description, wide: true },
  ],
};

export function describeRole(role: RoleDetail): string {
  const head = fields([
    ['Name', role.name],
    ['Description', role.description],
    ['Built in', yesNo(role.builtin)],
    ['Capabilities', role.capabilities.join(', ')],
  ]);
  if (role.assignments.length === 0) return `${head}\n\nNot assigned to anyone.`;
  return `${head}\n\n${assignmentsTable(role.assignments)}`;
}

export function assignmentsTable(assignments: RoleAssignment[]): string {
  return renderTable(assignments, [
    { header: 'ROLE', get: (a) => a.role },
    { header: 'GIVEN TO', get: holder },
    { header: 'SCOPE', get: (a) => a.scope },
    { header: 'SINCE', get: (a) => formatTime(a.createdAt) },
  ]);
}

export function capabilitiesTable(capabilities: EffectiveCapability[]): string {
  return renderTable(capabilities, [
    { header: 'CAPABILITY', get: (c) => c.capability },
    { header: 'ROLE', get: (c) => c.role },
    { header: 'VIA', get: (c) => (c.via === 'own' ? 'own' : `group ${c.via}`) },
    { header: 'SCOPE', get: (c) => c.scope ?? 'everyone' },
  ]);
}

export function describeUserAccess(access: UserAccess): string {
  const { user } = access;
  const head = fields([
    ['Name', user.username],
    ['Active', yesNo(user.active)],
    ['Signs in', user.auth === 'internal' ? 'internal (Trainyard password)' : `through ${user.auth}`],
    ['Agent user', formatIdentity(user.agentUser)],
    ['Groups', access.groups.join(', ')],
  ]);
  const roles = access.roles.length ? assignmentsTable(access.roles) : 'No roles.';
  const capabilities = access.capabilities.length ? capabilitiesTable(access.capabilities) : 'No capabilities: works with their own tasks only.';
  return `${head}\n\nRoles:\n${roles}\n\nEffective capabilities:\n${capabilities}`;
}

export const sessionsView: View<SessionListItem> = {
  name: (s) => s.id,
  columns: [
    { header: 'ID', field: 'id', get: (s) => (s.current ? `${s.id}*` : s.id), raw: (s) => s.id },
    { header: 'USER', field: 'user', get: (s) => s.user },
    { header: 'KIND', field: 'kind', get: (s) => s.kind },
    { header: 'CLIENT', field: 'client', get: (s) => s.client },
    { header: 'ADDRESS', field: 'address', get: (s) => s.address },
    { header: 'CREATED', field: 'createdAt', get: (s) => formatTime(s.createdAt), raw: (s) => s.createdAt },
    { header: 'LAST USED', field: 'lastUsedAt', get: (s) => formatTime(s.lastUsedAt), raw: (s) => s.lastUsedAt },
    { header: 'EXPIRES', field: 'expiresAt', get: (s) => formatTime(s.expiresAt), raw: (s) => s.expiresAt, wide: true },
    { header: 'CURRENT', field: 'current', get: (s) => yesNo(s.current), raw: (s) => s.current, wide: true },
  ],
};

export const tokensView: View<ApiTokenInfo> = {
  name: (t) => t.name,
  columns: [
    { header: 'NAME', field: 'name', get: (t) => t.name },
    { header: 'USER', field: 'user', get: (t) => t.user },
    { header: 'CREATED', field: 'createdAt', get: (t) => formatTime(t.createdAt), raw: (t) => t.createdAt },
    { header: 'EXPIRES', field: 'expiresAt', get: (t) => (t.expiresAt ? formatTime(t.expiresAt) : 'never'), raw: (t) => t.expiresAt },
    { header: 'LAST USED', field: 'lastUsedAt', get: (t) => formatTime(t.lastUsedAt), raw: (t) => t.lastUsedAt },
  ],
};

export const auditView: View<AuditEntry> = {
  name: (e) => e.id,
  columns: [
    { header: 'ID', field: 'id', get: (e) => e.id, wide: true },
    { header: 'TIME', field: 'time', get: (e) => formatTime(e.time), raw: (e) => e.time },
    { header: 'ACTOR', field: 'actor', get: (e) => e.actor ?? '(master)' },
    { header: 'ACTION', field: 'action', get: (e) => e.action },
    { header: 'TARGET', field: 'target', get: (e) => `${e.targetType} ${e.target}` },
    { header: 'DETAILS', field: 'details', get: (e) => describeDetails(e.details) },
  ],
};

/** `role=operator scope=research/vision`: compact, one line. */
function describeDetails(details: Record<string, unknown>): string {
  return Object.entries(details)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

function fields(rows: Array<[string, string | number | null | undefined]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v === null || v === undefined || v === '' ? '-' : escapeText(String(v))}`).join('\n');
}
