import type { Group } from '@trainyard/shared';
import type { AuditActor, AuditService, SystemActor } from '../audit/audit-service.js';
import { toIso, type Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import { DomainError } from '../errors.js';
import type { UserService } from '../users/user-service.js';
import { groupRepository, type GroupNode, type GroupRecord, type GroupListRecord } from './group-repository.js';
import { uidRepository } from './uid-repository.js';

/** The roles domain follows group changes through this (groups never import roles). */
export interface GroupListener {
  /** Before a group goes: its assignments go with it. */
  groupDeleting?(trx: Executor, actor: AuditActor, group: GroupRecord): Promise<void>;
  /** After members lost a group (removed, or the group deleted): `what` names the change for messages. */
  membershipReduced?(trx: Executor, what: string): Promise<void>;
  /** After the tree changed (a group created, moved, deleted, or its fair-share weight set): the scheduler reads it again. */
  treeChanged?(): void;
}

const parentOf = (path: string): string | null => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : null);

export const groupNotFound = (path: string, hint = '') =>
  new DomainError('GROUP_NOT_FOUND', `group '${path}' does not exist${hint}`);

/**
 * Groups by path. A subgroup needs its parent; renaming moves the subtree; deleting keeps the
 * members' accounts and tasks and is refused while subgroups remain (delete or move them first).
 */
export class GroupService {
  private readonly listeners: GroupListener[] = [];

  constructor(private readonly deps: { db: Db; clock: Clock; audit: AuditService; users: UserService }) {}

  subscribe(listener: GroupListener): void {
    this.listeners.push(listener);
  }

  async exists(path: string): Promise<boolean> {
    return (await groupRepository.findByPath(this.deps.db, path)) !== undefined;
  }

  /** For the users domain (default groups): the group at `path` and whether the user is a direct member. */
  async membership(db: Executor, path: string, userId: number): Promise<{ id: number; member: boolean } | undefined> {
    const group = await groupRepository.findByPath(db, path);
    return group && { id: group.id, member: await groupRepository.isMember(db, group.id, userId) };
  }

  async list(): Promise<Group[]> {
    return (await groupRepository.list(this.deps.db)).map(toGroup);
  }

  async require(path: string, db: Executor = this.deps.db): Promise<GroupRecord> {
    const group = await groupRepository.findByPath(db, path);
    if (!group) throw groupNotFound(path);
    return group;
  }

  /** A group with its members and subgroups (the roles domain adds what is assigned to it). */
  async show(path: string): Promise<Group & { members: string[]; subgroups: string[]; allocatedUids: Array<{ username: string; uid: number }> }> {
    const { db } = this.deps;
    const [group] = await groupRepository.list(db, path);
    if (!group) throw groupNotFound(path);
    const [members, subgroups, allocatedUids] = await Promise.all([
      groupRepository.memberNames(db, group.id),
      groupRepository.subgroupPaths(db, group.id),
      uidRepository.allocated(db, group.id),
    ]);
    return { ...toGroup(group), members, subgroups, allocatedUids };
  }

  async create(actor: AuditActor, path: string): Promise<Group> {
    const { db, clock, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      await groupRepository.lockTree(trx);
      if (await groupRepository.findByPath(trx, path)) throw groupExists(path);
      const parent = await this.requireParent(trx, path);
      await groupRepository.insert(trx, { path, parentId: parent?.id ?? null, now: clock.now() });
      await audit.record(trx, actor, { action: 'group.create', targetType: 'group', target: path });
    });
    this.treeChanged();
    return this.summary(path);
  }

  /** Renames or moves a group; its subgroups' paths follow. Moving a group into its own subtree is a cycle. */
  async rename(actor: AuditActor, path: string, newPath: string): Promise<Group> {
    const { db, clock, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      await groupRepository.lockTree(trx);
      const group = await this.require(path, trx);
      if (newPath === path) return;
      if (newPath.startsWith(`${path}/`)) {
        throw new DomainError('GROUP_CYCLE', `cannot move '${path}' to '${newPath}': a group cannot be put under itself`);
      }
      if (await groupRepository.findByPath(trx, newPath)) throw groupExists(newPath);
      const parent = await this.requireParent(trx, newPath);
      const moved = await groupRepository.move(trx, group, newPath, parent?.id ?? null, clock.now());
      await audit.record(trx, actor, { action: 'group.rename', targetType: 'group', target: newPath, details: { from: path, to: newPath, subgroupsMoved: moved } });
    });
    this.treeChanged();
    return this.summary(newPath);
  }

  /**
   * Where the group's tasks go when they name no pool (null: the system's default_pool). The caller
   * checks that the pool exists (the pools are master.yaml's); a pool removed later refuses such
   * tasks at admission, naming the group.
   */
  async setDefaultPool(actor: AuditActor, path: string, pool: string | null): Promise<void> {
    const { db, clock, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      const group = await this.require(path, trx);
      await groupRepository.setDefaultPool(trx, group.id, pool, clock.now());
      await audit.record(trx, actor, { action: 'group.pool.set', targetType: 'group', target: path, details: { before: group.defaultPool, after: pool } });
    });
  }

  /**
   * Its share against its siblings (and the parent's direct members, who weigh 1 each) in
   * hierarchical fair share (Fair Tree); audited as `group.fair_share.set`.
   */
  async setFairShareWeight(actor: AuditActor, path: string, weight: number): Promise<void> {
    const { db, clock, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      const group = await this.require(path, trx);
      await groupRepository.setFairShareWeight(trx, group.id, weight, clock.now());
      await audit.record(trx, actor, { action: 'group.fair_share.set', targetType: 'group', target: path, details: { before: group.fairShareWeight, after: weight } });
    });
    this.treeChanged();
  }

  /** The whole tree of groups (the scheduler caches it until `treeChanged`). */
  tree(db: Executor = this.deps.db): Promise<GroupNode[]> {
    return groupRepository.tree(db);
  }

  private treeChanged(): void {
    for (const listener of this.listeners) listener.treeChanged?.();
  }

  /** The default pool of the group a task is created in (admission). */
  defaultPoolOf(groupId: number): Promise<string | null> {
    return groupRepository.defaultPoolOf(this.deps.db, groupId);
  }

  async delete(actor: AuditActor, path: string): Promise<{ path: string; deleted: true; members: string[] }> {
    const { db, audit } = this.deps;
    const deleted = await db.transaction().execute(async (trx) => {
      await groupRepository.lockTree(trx);
      const group = await this.require(path, trx);
      const subgroups = await groupRepository.subgroupPaths(trx, group.id);
      if (subgroups.length > 0) {
        throw new DomainError(
          'GROUP_HAS_SUBGROUPS',
          `group '${path}' has subgroups (${subgroups.join(', ')}): delete or move them first`,
        );
      }
      const members = await groupRepository.memberNames(trx, group.id);
      for (const listener of this.listeners) await listener.groupDeleting?.(trx, actor, group);
      await groupRepository.delete(trx, group.id);
      await audit.record(trx, actor, { action: 'group.delete', targetType: 'group', target: path, details: { members } });
      for (const listener of this.listeners) await listener.membershipReduced?.(trx, `deleting group ${path}`);
      return { path, deleted: true as const, members };
    });
    this.treeChanged();
    return deleted;
  }

  async addMember(actor: AuditActor, path: string, username: string): Promise<Group> {
    const { db, clock, audit, users } = this.deps;
    await db.transaction().execute(async (trx) => {
      const group = await this.require(path, trx);
      const user = await users.require(username, trx);
      if (await groupRepository.isMember(trx, group.id, user.id)) {
        throw new DomainError('MEMBER_EXISTS', `${user.username} is already a member of ${path}`);
      }
      await groupRepository.addMember(trx, group.id, user.id, clock.now());
      await audit.record(trx, actor, { action: 'group.member.add', targetType: 'user', target: user.username, details: { group: path } });
    });
    return this.summary(path);
  }

  async removeMember(actor: AuditActor, path: string, username: string): Promise<Group> {
    const { db, audit, users } = this.deps;
    await db.transaction().execute(async (trx) => {
      const group = await this.require(path, trx);
      const user = await users.require(username, trx);
      if (!(await groupRepository.removeMember(trx, group.id, user.id))) {
        throw new DomainError('MEMBER_NOT_FOUND', `${user.username} is not a member of ${path}`);
      }
      await audit.record(trx, actor, { action: 'group.member.remove', targetType: 'user', target: user.username, details: { group: path } });
      for (const listener of this.listeners) await listener.membershipReduced?.(trx, `removing ${user.username} from ${path}`);
    });
    return this.summary(path);
  }

  /**
   * Makes a user's memberships among `managed` exactly `paths` (both lists of group paths), in one
   * transaction, each change audited as `actor`'s; memberships in other groups stay as they are.
   * Paths naming no group are skipped and returned, for the caller to report.
   */
  async setManagedMemberships(
    actor: AuditActor | SystemActor,
    user: { id: number; username: string },
    membership: { paths: string[]; managed: string[] },
  ): Promise<{ added: string[]; removed: string[]; missing: string[] }> {
    const { db, clock, audit } = this.deps;
    const wanted = new Set(membership.paths);
    return db.transaction().execute(async (trx) => {
      const result = { added: [] as string[], removed: [] as string[], missing: [] as string[] };
      for (const path of membership.managed) {
        const group = await groupRepository.findByPath(trx, path);
        if (!group) {
          if (wanted.has(path)) result.missing.push(path);
          continue;
        }
        const member = await groupRepository.isMember(trx, group.id, user.id);
        if (wanted.has(path) && !member) {
          await groupRepository.addMember(trx, group.id, user.id, clock.now());
          await audit.record(trx, actor, { action: 'group.member.add', targetType: 'user', target: user.username, details: { group: path } });
          result.added.push(path);
        } else if (!wanted.has(path) && member) {
          await groupRepository.removeMember(trx, group.id, user.id);
          await audit.record(trx, actor, { action: 'group.member.remove', targetType: 'user', target: user.username, details: { group: path } });
          result.removed.push(path);
        }
      }
      if (result.removed.length > 0) {
        const what = `removing ${user.username} from ${result.removed.join(', ')}`;
        for (const listener of this.listeners) await listener.membershipReduced?.(trx, what);
      }
      return result;
    });
  }

  /** The groups each user is a direct member of. */
  pathsOf(db: Executor, userIds: number[]): Promise<Map<number, string[]>> {
    return groupRepository.pathsOf(db, userIds);
  }

  /** Ids of the groups a user is a direct member of: what a scoped capability is checked against. */
  /** The paths of the groups `userId` is a direct member of. */
  async pathsOfUser(userId: number): Promise<string[]> {
    return (await groupRepository.pathsOf(this.deps.db, [userId])).get(userId) ?? [];
  }

  idsOf(userId: number): Promise<number[]> {
    return groupRepository.idsOf(this.deps.db, userId);
  }

  private async requireParent(db: Executor, path: string): Promise<GroupRecord | undefined> {
    const parentPath = parentOf(path);
    if (parentPath === null) return undefined;
    const parent = await groupRepository.findByPath(db, parentPath);
    if (!parent) throw groupNotFound(parentPath, `: create it before '${path}'`);
    return parent;
  }

  private async summary(path: string): Promise<Group> {
    const [group] = await groupRepository.list(this.deps.db, path);
    if (!group) throw groupNotFound(path);
    return toGroup(group);
  }
}

const groupExists = (path: string) => new DomainError('GROUP_EXISTS', `group '${path}' already exists`);

function toGroup(group: GroupListRecord): Group {
  return {
    id: group.id,
    path: group.path,
    parent: group.parent,
    memberCount: group.memberCount,
    subgroupCount: group.subgroupCount,
    createdAt: toIso(group.createdAt),
    gid: group.unix.gid,
    unixGroup: group.unix.unixGroup,
    uidRange: group.unix.uidRange,
    sharedDir: group.unix.sharedDir,
    defaultPool: group.defaultPool,
    fairShareWeight: group.fairShareWeight,
  };
}
