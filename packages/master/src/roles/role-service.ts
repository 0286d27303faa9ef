import {
  ADMIN_ROLE,
  BUILTIN_ROLES,
  CAPABILITIES,
  isCapability,
  READ_ONLY_CAPABILITIES,
  SCOPEABLE_CAPABILITIES,
  USER_ROLE,
  type Capability,
  type EffectiveCapability,
  type Role,
  type RoleAssignment,
  type RoleDetail,
  type UserAccess,
} from '@trainyard/shared';
import type { AuditActor, AuditService } from '../audit/audit-service.js';
import { toIso, type Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import { DomainError } from '../errors.js';
import type { GroupListener, GroupService } from '../groups/group-service.js';
import type { GroupRecord } from '../groups/group-repository.js';
import type { UserRecord } from '../users/user-repository.js';
import type { UserAccessPort, UserAccessSummary, UserService } from '../users/user-service.js';
import { roleRepository, type AssignmentRecord, type RoleRecord, type UserGrants } from './role-repository.js';

/** Who a role goes to, by name, as requests name them. */
export interface AssignmentTarget {
  user?: string;
  group?: string;
  scope?: string;
}

const BUILTIN_CAPABILITIES: Record<string, readonly Capability[]> = { [ADMIN_ROLE]: CAPABILITIES, [USER_ROLE]: [] };

export const roleNotFound = (name: string) =>
  new DomainError('ROLE_NOT_FOUND', `role '${name}' does not exist: \`yard role list\` shows the roles there are`);

/**
 * Roles (named sets of capabilities) and who holds them. A role goes to a user or to a group (its
 * direct members hold it; subgroups do not), optionally scoped to a group: then it covers only
 * tasks whose owner is a direct member of that group, and only scopeable capabilities may be in it.
 */
export class RoleService implements UserAccessPort, GroupListener {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      audit: AuditService;
      users: UserService;
      groups: GroupService;
      /** security.default_role: what every new user is given. */
      defaultRole: string;
    },
  ) {}

  /** At start: the built-in roles hold exactly their capabilities (admin: every one this master knows). */
  async syncBuiltins(): Promise<void> {
    const { db, clock, defaultRole } = this.deps;
    for (const [name, capabilities] of Object.entries(BUILTIN_CAPABILITIES)) {
      const role = await this.require(name);
      if (role.capabilities.length !== capabilities.length) {
        await roleRepository.update(db, role.id, { capabilities: [...capabilities], now: clock.now() });
      }
    }
    if (!(await roleRepository.findByName(db, defaultRole))) {
      throw new Error(`security.default_role is '${defaultRole}', and no role has that name: create it (yard role create) or use '${USER_ROLE}'`);
    }
  }

  async list(): Promise<Role[]> {
    return (await roleRepository.list(this.deps.db)).map(toRole);
  }

  async show(name: string): Promise<RoleDetail> {
    const role = await this.require(name);
    const assignments = await roleRepository.assignments(this.deps.db, { roleId: role.id });
    return { ...toRole(role), assignments: assignments.map(toAssignment) };
  }

  async create(actor: AuditActor, input: { name: string; description: string; capabilities: string[] }): Promise<RoleDetail> {
    const { db, clock, audit } = this.deps;
    const capabilities = parseCapabilities(input.capabilities);
    await db.transaction().execute(async (trx) => {
      if (await roleRepository.findByName(trx, input.name)) {
        throw new DomainError('ROLE_EXISTS', `role '${input.name}' already exists`);
      }
      await roleRepository.insert(trx, { name: input.name, description: input.description, builtin: false, capabilities, now: clock.now() });
      await audit.record(trx, actor, { action: 'role.create', targetType: 'role', target: input.name, details: { capabilities } });
    });
    return this.show(input.name);
  }

  async update(actor: AuditActor, name: string, changes: { description?: string; capabilities?: string[] }): Promise<RoleDetail> {
    const { db, clock, audit } = this.deps;
    const capabilities = changes.capabilities && parseCapabilities(changes.capabilities);
    await db.transaction().execute(async (trx) => {
      const role = await this.require(name, trx);
      this.refuseBuiltin(role, 'edited');
      const unscopeable = capabilities?.filter((c) => !SCOPEABLE_CAPABILITIES.includes(c)) ?? [];
      if (unscopeable.length > 0 && (await roleRepository.hasScopedAssignments(trx, role.id))) {
        throw new DomainError(
          'SCOPE_NOT_ALLOWED',
          `role '${role.name}' has scoped assignments, and ${unscopeable.join(', ')} cannot be scoped: ` +
            'remove the scoped assignments first, or make another role',
        );
      }
      const acting = capabilities?.filter((c) => !READ_ONLY_CAPABILITIES.includes(c)) ?? [];
      if (acting.length > 0 && (await roleRepository.hasSelfScopedAssignments(trx, role.id))) {
        throw new DomainError(
          'SELF_SCOPE',
          `role '${role.name}' is given to a group scoped to that group itself, and with ${acting.join(', ')} every member could act on ` +
            "every other member's tasks: remove those assignments first, or make another role",
        );
      }
      await roleRepository.update(trx, role.id, {
        ...(changes.description === undefined ? {} : { description: changes.description }),
        ...(capabilities ? { capabilities } : {}),
        now: clock.now(),
      });
      await audit.record(trx, actor, {
        action: 'role.update',
        targetType: 'role',
        target: role.name,
        details: {
          ...(capabilities ? { capabilities: { from: role.capabilities, to: capabilities } } : {}),
          ...(changes.description === undefined ? {} : { description: changes.description }),
        },
      });
    });
    return this.show(name);
  }

  /** Deleting a role moves nothing: its assignments go with it. */
  async delete(actor: AuditActor, name: string): Promise<{ name: string; deleted: true; assignments: RoleAssignment[] }> {
    const { db, audit } = this.deps;
    return db.transaction().execute(async (trx) => {
      const role = await this.require(name, trx);
      this.refuseBuiltin(role, 'deleted');
      if (role.name === this.deps.defaultRole) {
        throw new DomainError('ROLE_PROTECTED', `role '${role.name}' is security.default_role, given to every new user: change master.yaml first`);
      }
      const assignments = (await roleRepository.assignments(trx, { roleId: role.id })).map(toAssignment);
      await roleRepository.delete(trx, role.id);
      await audit.record(trx, actor, {
        action: 'role.delete',
        targetType: 'role',
        target: role.name,
        details: { capabilities: role.capabilities, assignments: assignments.map(describeAssignment) },
      });
      return { name: role.name, deleted: true as const, assignments };
    });
  }

  async assign(actor: AuditActor, name: string, target: AssignmentTarget): Promise<RoleAssignment> {
    const { db, clock, audit } = this.deps;
    return db.transaction().execute(async (trx) => {
      const role = await this.require(name, trx);
      const { holder, scope } = await this.resolveTarget(trx, target);
      if (scope) {
        const unscopeable = role.capabilities.filter((c) => !SCOPEABLE_CAPABILITIES.includes(c));
        if (unscopeable.length > 0) {
          throw new DomainError(
            'SCOPE_NOT_ALLOWED',
            `role '${role.name}' cannot be scoped: it holds ${unscopeable.join(', ')}, which act on the whole cluster; ` +
              `only ${SCOPEABLE_CAPABILITIES.join(', ')} can be held for one group`,
          );
        }
        const readOnly = role.capabilities.every((c) => READ_ONLY_CAPABILITIES.includes(c));
        if ('group' in holder && holder.group.id === scope.id && !readOnly) {
          throw new DomainError(
            'SELF_SCOPE',
            `role '${role.name}' given to ${scope.path} and scoped to ${scope.path} itself would let every member act on every ` +
              `other member's tasks: give it to the users who should have it (--user NAME --scope ${scope.path})`,
          );
        }
      }
      const holderKey = 'user' in holder ? { userId: holder.user.id } : { groupId: holder.group.id };
      const scopeId = scope?.id ?? null;
      if ((await roleRepository.findAssignment(trx, role.id, holderKey, scopeId)) !== undefined) {
        throw new DomainError('ASSIGNMENT_EXISTS', `${holderText(holder)} already holds role '${role.name}'${scope ? ` scoped to ${scope.path}` : ''}`);
      }
      const id = await roleRepository.insertAssignment(trx, {
        roleId: role.id,
        userId: 'user' in holder ? holder.user.id : null,
        groupId: 'group' in holder ? holder.group.id : null,
        scopeId,
        now: clock.now(),
      });
      await audit.record(trx, actor, {
        action: 'role.assign',
        ...auditTarget(holder),
        details: { role: role.name, scope: scope?.path ?? null },
      });
      const [created] = await roleRepository.assignments(trx, { id });
      return toAssignment(created!);
    });
  }

  async unassign(actor: AuditActor, name: string, target: AssignmentTarget): Promise<RoleAssignment> {
    const { db, audit } = this.deps;
    return db.transaction().execute(async (trx) => {
      const role = await this.require(name, trx);
      const { holder, scope } = await this.resolveTarget(trx, target);
      const holderKey = 'user' in holder ? { userId: holder.user.id } : { groupId: holder.group.id };
      const id = await roleRepository.findAssignment(trx, role.id, holderKey, scope?.id ?? null);
      const [assignment] = id === undefined ? [] : await roleRepository.assignments(trx, { id });
      if (id === undefined || !assignment) {
        throw new DomainError(
          'ASSIGNMENT_NOT_FOUND',
          `${holderText(holder)} does not hold role '${role.name}'${scope ? ` scoped to ${scope.path}` : ' unscoped'}: \`yard role show ${role.name}\` lists who does`,
        );
      }
      await roleRepository.deleteAssignment(trx, id);
      await audit.record(trx, actor, { action: 'role.unassign', ...auditTarget(holder), details: { role: role.name, scope: scope?.path ?? null } });
      if (role.name === ADMIN_ROLE) await this.assertAdminRemains(trx, `taking the admin role from ${holderText(holder)}`);
      return toAssignment(assignment);
    });
  }

  /** What is given to a group, and what anywhere is scoped to it (for `yard group show`). */
  async ofGroup(groupId: number): Promise<{ roles: RoleAssignment[]; scopedHere: RoleAssignment[] }> {
    const { db } = this.deps;
    const [given, scoped] = await Promise.all([roleRepository.assignments(db, { groupIds: [groupId] }), roleRepository.assignments(db, { scopeId: groupId })]);
    return { roles: given.map(toAssignment), scopedHere: scoped.map(toAssignment) };
  }

  /** The request's actor: direct groups and every capability with where it comes from (one query). */
  grantsFor(userId: number): Promise<UserGrants> {
    return roleRepository.grantsFor(this.deps.db, userId);
  }

  /** `yard user show NAME`: groups, the roles given to the user and to those groups, and what they add up to. */
  async accessOf(user: UserRecord): Promise<UserAccess> {
    const { db, users } = this.deps;
    const { groups, grants } = await this.grantsFor(user.id);
    const [own, viaGroups] = await Promise.all([
      roleRepository.assignments(db, { userIds: [user.id] }),
      roleRepository.assignments(db, { groupIds: groups.map((g) => g.id) }),
    ]);
    return {
      user: await users.presentOne(user),
      groups: groups.map((g) => g.path).sort(),
      roles: [...own, ...viaGroups].map(toAssignment),
      capabilities: grants.map(
        (g): EffectiveCapability => ({ capability: g.capability, role: g.role, via: g.viaGroup ?? 'own', scope: g.scope }),
      ),
    };
  }

  // --- what the users domain needs (UserAccessPort) ---

  async describe(db: Executor, userIds: number[]): Promise<Map<number, UserAccessSummary>> {
    const summaries = new Map<number, UserAccessSummary>();
    if (userIds.length === 0) return summaries;
    const [assignments, groups] = await Promise.all([
      roleRepository.assignments(db, { userIds }),
      this.deps.groups.pathsOf(db, userIds),
    ]);
    for (const id of userIds) {
      const own = assignments.filter((a) => a.userId === id);
      summaries.set(id, {
        admin: own.some((a) => a.role === ADMIN_ROLE && a.scopeId === null),
        roles: own.map((a) => ({ role: a.role, scope: a.scope })),
        groups: groups.get(id) ?? [],
      });
    }
    return summaries;
  }

  async userCreated(trx: Executor, actor: AuditActor | null, user: UserRecord, options: { admin: boolean }): Promise<void> {
    const roles = [this.deps.defaultRole, ...(options.admin && this.deps.defaultRole !== ADMIN_ROLE ? [ADMIN_ROLE] : [])];
    for (const name of roles) {
      const role = await this.require(name, trx);
      await roleRepository.insertAssignment(trx, { roleId: role.id, userId: user.id, groupId: null, scopeId: null, now: this.deps.clock.now() });
    }
  }

  async setAdmin(trx: Executor, actor: AuditActor, user: UserRecord, admin: boolean): Promise<void> {
    const role = await this.require(ADMIN_ROLE, trx);
    const id = await roleRepository.findAssignment(trx, role.id, { userId: user.id }, null);
    if (admin && id === undefined) {
      await roleRepository.insertAssignment(trx, { roleId: role.id, userId: user.id, groupId: null, scopeId: null, now: this.deps.clock.now() });
    } else if (!admin && id !== undefined) {
      await roleRepository.deleteAssignment(trx, id);
    } else {
      return;
    }
    await this.deps.audit.record(trx, actor, {
      action: admin ? 'role.assign' : 'role.unassign',
      targetType: 'user',
      target: user.username,
      details: { role: ADMIN_ROLE, scope: null },
    });
  }

  async assertAdminRemains(trx: Executor, what: string): Promise<void> {
    const role = await this.require(ADMIN_ROLE, trx);
    const holders = await roleRepository.holderIds(trx, role.id);
    if ((await this.deps.users.countActive(trx, holders)) === 0) {
      throw new DomainError(
        'LAST_ADMIN',
        `${what} would leave no active user holding the admin role: give it to another active user first ` +
          '(`yard role assign admin --user NAME`)',
      );
    }
  }

  // --- following groups (GroupListener) ---

  async groupDeleting(trx: Executor, actor: AuditActor, group: GroupRecord): Promise<void> {
    const given = await roleRepository.assignments(trx, { groupIds: [group.id] });
    const scoped = await roleRepository.assignments(trx, { scopeId: group.id });
    for (const a of [...given, ...scoped.filter((s) => s.groupId !== group.id)]) {
      await this.deps.audit.record(trx, actor, {
        action: 'role.unassign',
        targetType: a.user === null ? 'group' : 'user',
        target: a.user ?? a.group ?? '',
        details: { role: a.role, scope: a.scope, reason: `group ${group.path} deleted` },
      });
    }
  }

  async membershipReduced(trx: Executor, what: string): Promise<void> {
    await this.assertAdminRemains(trx, what);
  }

  private async require(name: string, db: Executor = this.deps.db): Promise<RoleRecord> {
    const role = await roleRepository.findByName(db, name);
    if (!role) throw roleNotFound(name);
    return role;
  }

  private refuseBuiltin(role: RoleRecord, what: 'edited' | 'deleted'): void {
    if (role.builtin || BUILTIN_ROLES.includes(role.name)) {
      throw new DomainError('ROLE_PROTECTED', `role '${role.name}' is built in and cannot be ${what}: create a role of your own instead`);
    }
  }

  private async resolveTarget(
    db: Executor,
    target: AssignmentTarget,
  ): Promise<{ holder: { user: UserRecord } | { group: GroupRecord }; scope: GroupRecord | undefined }> {
    const { users, groups } = this.deps;
    const holder = target.user !== undefined ? { user: await users.require(target.user, db) } : { group: await groups.require(target.group ?? '', db) };
    const scope = target.scope === undefined ? undefined : await groups.require(target.scope, db);
    return { holder, scope };
  }
}

/** Capability names from a request: unknown ones are refused by name, with the list of known ones. */
export function parseCapabilities(names: string[]): Capability[] {
  const unknown = names.filter((n) => !isCapability(n));
  if (unknown.length > 0) {
    throw new DomainError(
      'UNKNOWN_CAPABILITY',
      `unknown capabilit${unknown.length > 1 ? 'ies' : 'y'} ${unknown.map((n) => `'${n}'`).join(', ')}: the capabilities are ${CAPABILITIES.join(', ')}`,
    );
  }
  return CAPABILITIES.filter((c) => names.includes(c));
}

const holderText = (holder: { user: UserRecord } | { group: GroupRecord }) =>
  'user' in holder ? `user ${holder.user.username}` : `group ${holder.group.path}`;

const auditTarget = (holder: { user: UserRecord } | { group: GroupRecord }) =>
  'user' in holder
    ? { targetType: 'user' as const, target: holder.user.username }
    : { targetType: 'group' as const, target: holder.group.path };

const describeAssignment = (a: RoleAssignment) => `${a.user ? `user ${a.user}` : `group ${a.group}`}${a.scope ? ` (scope ${a.scope})` : ''}`;

function toRole(role: RoleRecord): Role {
  return {
    name: role.name,
    description: role.description,
    builtin: role.builtin,
    capabilities: role.capabilities,
    assignmentCount: role.assignmentCount,
    createdAt: toIso(role.createdAt),
  };
}

function toAssignment(a: AssignmentRecord): RoleAssignment {
  return { id: a.id, role: a.role, user: a.user, group: a.group, scope: a.scope, createdAt: toIso(a.createdAt) };
}
