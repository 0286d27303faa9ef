import { sql } from 'kysely';
import { CAPABILITIES, isCapability, type Capability } from '@trainyard/shared';
import { compileOnce } from '../db/compile-once.js';
import type { Executor } from '../db/database.js';
import type { RoleRow } from '../db/schema.js';

export interface RoleRecord {
  id: number;
  name: string;
  description: string;
  builtin: boolean;
  capabilities: Capability[];
  assignmentCount: number;
  createdAt: number;
  updatedAt: number;
}

export interface AssignmentRecord {
  id: number;
  roleId: number;
  role: string;
  userId: number | null;
  user: string | null;
  groupId: number | null;
  group: string | null;
  scopeId: number | null;
  scope: string | null;
  createdAt: number;
}

/** One capability a user holds through one assignment. */
export interface GrantRecord {
  capability: Capability;
  role: string;
  /** The group the role was given to; null when given to the user. */
  viaGroup: string | null;
  scopeId: number | null;
  scope: string | null;
}

export interface UserGrants {
  groups: Array<{ id: number; path: string }>;
  grants: GrantRecord[];
}

export interface AssignmentFilter {
  id?: number;
  roleId?: number;
  /** Assignments given to these users. */
  userIds?: number[];
  /** Assignments given to these groups. */
  groupIds?: number[];
  scopeId?: number;
}

/**
 * Roles, their capabilities and their assignments. Holder and scope names come from read-only
 * joins on users and groups (owned by those domains); this file writes only its three tables.
 */
export const roleRepository = {
  async findByName(db: Executor, name: string): Promise<RoleRecord | undefined> {
    return (await listRoles(db, name))[0];
  },

  list(db: Executor): Promise<RoleRecord[]> {
    return listRoles(db);
  },

  async insert(
    db: Executor,
    role: { name: string; description: string; builtin: boolean; capabilities: Capability[]; now: number },
  ): Promise<number> {
    const { id } = await db
      .insertInto('roles')
      .values({ name: role.name, description: role.description, builtin: role.builtin ? 1 : 0, created_at: role.now, updated_at: role.now })
      .returning('id')
      .executeTakeFirstOrThrow();
    await setCapabilities(db, id, role.capabilities);
    return id;
  },

  async update(db: Executor, id: number, changes: { description?: string; capabilities?: Capability[]; now: number }): Promise<void> {
    await db
      .updateTable('roles')
      .set({ ...(changes.description === undefined ? {} : { description: changes.description }), updated_at: changes.now })
      .where('id', '=', id)
      .execute();
    if (changes.capabilities) await setCapabilities(db, id, changes.capabilities);
  },

  async delete(db: Executor, id: number): Promise<void> {
    await db.deleteFrom('roles').where('id', '=', id).execute();
  },

  async assignments(db: Executor, filter: AssignmentFilter): Promise<AssignmentRecord[]> {
    let query = db
      .selectFrom('role_assignments as a')
      .innerJoin('roles as r', 'r.id', 'a.role_id')
      .leftJoin('users as u', 'u.id', 'a.user_id')
      .leftJoin('groups as g', 'g.id', 'a.group_id')
      .leftJoin('groups as s', 's.id', 'a.scope_group_id')
      .select([
        'a.id',
        'a.role_id',
        'r.name as role',
        'a.user_id',
        'u.username as user',
        'a.group_id',
        'g.path as group',
        'a.scope_group_id',
        's.path as scope',
        'a.created_at',
      ]);
    if (filter.id !== undefined) query = query.where('a.id', '=', filter.id);
    if (filter.roleId !== undefined) query = query.where('a.role_id', '=', filter.roleId);
    for (const [column, ids] of [['a.user_id', filter.userIds], ['a.group_id', filter.groupIds]] as const) {
      if (ids === undefined) continue;
      if (ids.length === 0) return [];
      query = query.where(column, 'in', ids);
    }
    if (filter.scopeId !== undefined) query = query.where('a.scope_group_id', '=', filter.scopeId);
    const rows = await query.orderBy('r.name').orderBy('a.id').execute();
    return rows.map((row) => ({
      id: row.id,
      roleId: row.role_id,
      role: row.role,
      userId: row.user_id,
      user: row.user,
      groupId: row.group_id,
      group: row.group,
      scopeId: row.scope_group_id,
      scope: row.scope,
      createdAt: row.created_at,
    }));
  },

  async findAssignment(
    db: Executor,
    roleId: number,
    holder: { userId: number } | { groupId: number },
    scopeId: number | null,
  ): Promise<number | undefined> {
    let query = db.selectFrom('role_assignments').select('id').where('role_id', '=', roleId);
    query = 'userId' in holder ? query.where('user_id', '=', holder.userId) : query.where('group_id', '=', holder.groupId);
    query = scopeId === null ? query.where('scope_group_id', 'is', null) : query.where('scope_group_id', '=', scopeId);
    return (await query.executeTakeFirst())?.id;
  },

  async insertAssignment(
    db: Executor,
    assignment: { roleId: number; userId: number | null; groupId: number | null; scopeId: number | null; now: number },
  ): Promise<number> {
    const { id } = await db
      .insertInto('role_assignments')
      .values({
        role_id: assignment.roleId,
        user_id: assignment.userId,
        group_id: assignment.groupId,
        scope_group_id: assignment.scopeId,
        created_at: assignment.now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return id;
  },

  async deleteAssignment(db: Executor, id: number): Promise<void> {
    await db.deleteFrom('role_assignments').where('id', '=', id).execute();
  },

  /** Whether the role is given to some group scoped to that group itself (allowed for read-only roles only). */
  async hasSelfScopedAssignments(db: Executor, roleId: number): Promise<boolean> {
    const row = await db
      .selectFrom('role_assignments')
      .select('id')
      .where('role_id', '=', roleId)
      .whereRef('group_id', '=', 'scope_group_id')
      .executeTakeFirst();
    return row !== undefined;
  },

  async hasScopedAssignments(db: Executor, roleId: number): Promise<boolean> {
    const row = await db
      .selectFrom('role_assignments')
      .select('id')
      .where('role_id', '=', roleId)
      .where('scope_group_id', 'is not', null)
      .executeTakeFirst();
    return row !== undefined;
  },

  /** Users who hold a role unscoped, given to them or to a group they are a direct member of. */
  async holderIds(db: Executor, roleId: number): Promise<number[]> {
    const rows = await db
      .selectFrom('role_assignments')
      .select('user_id as id')
      .where('role_id', '=', roleId)
      .where('scope_group_id', 'is', null)
      .where('user_id', 'is not', null)
      .union(
        db
          .selectFrom('role_assignments as a')
          .innerJoin('group_members as m', 'm.group_id', 'a.group_id')
          .select('m.user_id as id')
          .where('a.role_id', '=', roleId)
          .where('a.scope_group_id', 'is', null),
      )
      .execute();
    return rows.flatMap((r) => (r.id === null ? [] : [r.id]));
  },

  /**
   * Everything the actor of a request needs, in one query: the user's direct groups, and each
   * capability of each role given to them or to one of those groups, with its scope.
   */
  async grantsFor(db: Executor, userId: number): Promise<UserGrants> {
    const rows = await grantsQuery(db, userId);
    const groups: UserGrants['groups'] = [];
    const grants: GrantRecord[] = [];
    for (const row of rows) {
      if (row.capability === null) {
        if (row.group_id !== null && row.group_path !== null) groups.push({ id: row.group_id, path: row.group_path });
      } else if (isCapability(row.capability) && row.role !== null) {
        grants.push({ capability: row.capability, role: row.role, viaGroup: row.group_path, scopeId: row.scope_id, scope: row.scope });
      }
    }
    return { groups, grants };
  },
};

// Every request runs this: compiled once (the placeholder id is never a user's).
const grantsQuery = compileOnce(buildGrantsQuery, [-4_700_013] as const);

function buildGrantsQuery(db: Executor, userId: number) {
  const nothing = <T>() => sql<T | null>`null`;
  const memberships = db
    .selectFrom('group_members as m')
    .innerJoin('groups as g', 'g.id', 'm.group_id')
    .select((eb) => [
      // Typed as the other parts of the union type them.
      eb.ref('g.id').$castTo<number | null>().as('group_id'),
      eb.ref('g.path').$castTo<string | null>().as('group_path'),
      nothing<string>().as('role'),
      nothing<string>().as('capability'),
      nothing<number>().as('scope_id'),
      nothing<string>().as('scope'),
    ])
    .where('m.user_id', '=', userId);
  const own = db
    .selectFrom('role_assignments as a')
    .innerJoin('roles as r', 'r.id', 'a.role_id')
    .innerJoin('role_capabilities as c', 'c.role_id', 'a.role_id')
    .leftJoin('groups as s', 's.id', 'a.scope_group_id')
    .select([
      nothing<number>().as('group_id'),
      nothing<string>().as('group_path'),
      'r.name as role',
      'c.capability',
      'a.scope_group_id as scope_id',
      's.path as scope',
    ])
    .where('a.user_id', '=', userId);
  const viaGroups = db
    .selectFrom('group_members as m')
    .innerJoin('groups as g', 'g.id', 'm.group_id')
    .innerJoin('role_assignments as a', 'a.group_id', 'm.group_id')
    .innerJoin('roles as r', 'r.id', 'a.role_id')
    .innerJoin('role_capabilities as c', 'c.role_id', 'a.role_id')
    .leftJoin('groups as s', 's.id', 'a.scope_group_id')
    .select(['g.id as group_id', 'g.path as group_path', 'r.name as role', 'c.capability', 'a.scope_group_id as scope_id', 's.path as scope'])
    .where('m.user_id', '=', userId);
  return memberships.unionAll(own).unionAll(viaGroups);
}

async function listRoles(db: Executor, name?: string): Promise<RoleRecord[]> {
  let query = db
    .selectFrom('roles as r')
    .selectAll('r')
    .select((eb) =>
      eb.selectFrom('role_assignments as a').select((e) => e.fn.countAll<number>().as('n')).whereRef('a.role_id', '=', 'r.id').as('assignment_count'),
    );
  if (name !== undefined) query = query.where('r.name', '=', name);
  const rows = await query.orderBy('r.name').execute();
  if (rows.length === 0) return [];
  const capabilityRows = await db
    .selectFrom('role_capabilities')
    .select(['role_id', 'capability'])
    .where('role_id', 'in', rows.map((r) => r.id))
    .execute();
  return rows.map((row) => toRecord(row, capabilityRows));
}

function toRecord(row: RoleRow & { assignment_count: number | null }, capabilityRows: Array<{ role_id: number; capability: string }>): RoleRecord {
  const held = new Set(capabilityRows.filter((c) => c.role_id === row.id).map((c) => c.capability));
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    builtin: row.builtin === 1,
    // In CAPABILITIES order; a name this master does not know (a newer one's) is skipped.
    capabilities: CAPABILITIES.filter((c) => held.has(c)),
    assignmentCount: Number(row.assignment_count ?? 0),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function setCapabilities(db: Executor, roleId: number, capabilities: Capability[]): Promise<void> {
  await db.deleteFrom('role_capabilities').where('role_id', '=', roleId).execute();
  const unique = [...new Set(capabilities)];
  if (unique.length > 0) {
    await db.insertInto('role_capabilities').values(unique.map((capability) => ({ role_id: roleId, capability }))).execute();
  }
}
