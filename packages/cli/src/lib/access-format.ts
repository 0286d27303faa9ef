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
import { renderTable } from './table.js';
import { formatTime } from './task-format.js';

/** "operator", or "operator (scope research/vision)". */
const withScope = (role: string, scope: string | null) => (scope ? `${role} (scope ${scope})` : role);
const holder = (a: RoleAssignment) => (a.user ? `user ${a.user}` : `group ${a.group}`);

export function groupsTable(groups: Group[]): string {
  return renderTable(groups, [
    { header: 'PATH', get: (g) => g.path },
    { header: 'MEMBERS', get: (g) => g.memberCount },
    { header: 'SUBGROUPS', get: (g) => g.subgroupCount },
    { header: 'GID', get: (g) => (g.gid === null ? '-' : `${g.gid} (${g.unixGroup})`) },
    { header: 'UID RANGE', get: (g) => (g.uidRange ? `${g.uidRange.start}/${g.uidRange.size}` : '-') },
    { header: 'SHARED', get: (g) => (g.sharedDir ? 'on' : 'off') },
    { header: 'CREATED', get: (g) => formatTime(g.createdAt) },
  ]);
}

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

export function rolesTable(roles: Role[]): string {
  return renderTable(roles, [
    { header: 'NAME', get: (r) => r.name },
    { header: 'BUILT IN', get: (r) => yesNo(r.builtin) },
    { header: 'ASSIGNED', get: (r) => r.assignmentCount },
    { header: 'CAPABILITIES', get: (r) => r.capabilities.join(',') },
  ]);
}

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

export function sessionsTable(sessions: SessionListItem[]): string {
  return renderTable(sessions, [
    { header: 'ID', get: (s) => (s.current ? `${s.id}*` : s.id) },
    { header: 'USER', get: (s) => s.user },
    { header: 'KIND', get: (s) => s.kind },
    { header: 'CLIENT', get: (s) => s.client },
    { header: 'ADDRESS', get: (s) => s.address },
    { header: 'CREATED', get: (s) => formatTime(s.createdAt) },
    { header: 'LAST USED', get: (s) => formatTime(s.lastUsedAt) },
  ]);
}

export function tokensTable(tokens: ApiTokenInfo[]): string {
  return renderTable(tokens, [
    { header: 'NAME', get: (t) => t.name },
    { header: 'USER', get: (t) => t.user },
    { header: 'CREATED', get: (t) => formatTime(t.createdAt) },
    { header: 'EXPIRES', get: (t) => (t.expiresAt ? formatTime(t.expiresAt) : 'never') },
    { header: 'LAST USED', get: (t) => formatTime(t.lastUsedAt) },
  ]);
}

export function auditTable(entries: AuditEntry[]): string {
  return renderTable(entries, [
    { header: 'TIME', get: (e) => formatTime(e.time) },
    { header: 'ACTOR', get: (e) => e.actor ?? '(master)' },
    { header: 'ACTION', get: (e) => e.action },
    { header: 'TARGET', get: (e) => `${e.targetType} ${e.target}` },
    { header: 'DETAILS', get: (e) => describeDetails(e.details) },
  ]);
}

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
