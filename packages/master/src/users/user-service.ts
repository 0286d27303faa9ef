import {
  ADMIN_ACCOUNT,
  DEFAULT_ACCOUNT,
  encodeCursor,
  type AuthBackendName,
  type Page,
  type UnixIdentity,
  type User,
} from '@trainyard/shared';
import type { AuditActor, AuditService } from '../audit/audit-service.js';
import type { AuthBackends } from '../auth/auth-backends.js';
import { toIso, type Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import { holdLock, isUniqueViolation } from '../db/dialect.js';
import { DomainError } from '../errors.js';
import type { PasswordHasher } from './password-hasher.js';
import { userRepository, type UserRecord } from './user-repository.js';

/** A user's roles and groups as the API shows them next to the account. */
export interface UserAccessSummary {
  admin: boolean;
  roles: Array<{ role: string; scope: string | null }>;
  groups: string[];
}

/**
 * What the users domain needs from the access model. The roles domain provides it (wired in
 * master.ts): users never import roles, which itself looks users up by name.
 */
export interface UserAccessPort {
  describe(db: Executor, userIds: number[]): Promise<Map<number, UserAccessSummary>>;
  /** In the creating transaction: the default role, and `admin` when asked for. */
  userCreated(trx: Executor, actor: AuditActor | null, user: UserRecord, options: { admin: boolean }): Promise<void>;
  /** The 0.1 admin flag: gives or takes the admin role held directly. */
  setAdmin(trx: Executor, actor: AuditActor, user: UserRecord, admin: boolean): Promise<void>;
  /** Throws LAST_ADMIN when, after `what`, no active user would hold the admin role. */
  assertAdminRemains(trx: Executor, what: string): Promise<void>;
}

/** What the users domain asks the groups domain (wired in master.ts; users never import groups). */
export interface GroupMembershipPort {
  /** The group at `path` and whether `userId` is a direct member; undefined when there is no such group. */
  membership(db: Executor, path: string, userId: number): Promise<{ id: number; member: boolean } | undefined>;
}

/** What the users domain asks the groups domain about uids (wired in master.ts). */
export interface UidOwnerPort {
  /** The member a group's uid range gave `uid` to, and that group; undefined when no range gave it. */
  uidOwner(db: Executor, uid: number): Promise<{ userId: number; username: string; groupPath: string } | undefined>;
}

/** Other domains that keep per-user state (sessions, tokens) and must follow a user's changes. */
export interface UserListener {
  userDeactivated?(trx: Executor, user: UserRecord): Promise<void>;
  passwordChanged?(trx: Executor, user: UserRecord, keepSessionId: number | undefined): Promise<void>;
}

export class UserService {
  private readonly listeners: UserListener[] = [];

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      hasher: PasswordHasher;
      /** Which auth backends this master configures, and where each keeps its users' passwords. */
      auth: AuthBackends;
      passwordMinLength: number;
      audit: AuditService;
      /** A getter: the roles service is built after this one and looks users up through it. */
      access: () => UserAccessPort;
      /** Likewise the groups service, for default groups. */
      groups: () => GroupMembershipPort;
      /** And the groups' Unix identities, for uids their ranges gave. */
      uids: () => UidOwnerPort;
    },
  ) {}

  subscribe(listener: UserListener): void {
    this.listeners.push(listener);
  }

  /**
   * First start: `admin` (admin) and the default account `yard`, in one transaction. Several masters
   * starting together on one new database make them once: the admins lock, then the count again.
   */
  async bootstrap(initialAdminPassword = ''): Promise<boolean> {
    const { db, clock, hasher } = this.deps;
    if ((await userRepository.count(db)) > 0) return false;
    const [adminHash, yardHash] = await Promise.all([hasher.hash(initialAdminPassword), hasher.hash('')]);
    const now = clock.now();
    return db.transaction().execute(async (trx) => {
      await holdLock(trx, 'admins');
      if ((await userRepository.count(trx)) > 0) return false;
      for (const [username, passwordHash, admin] of [[ADMIN_ACCOUNT, adminHash, true], [DEFAULT_ACCOUNT, yardHash, false]] as const) {
        const user = await userRepository.insert(trx, { username, passwordHash, active: true, auth: 'internal', now });
        await this.deps.access().userCreated(trx, null, user, { admin });
        await this.deps.audit.record(trx, null, { action: 'user.create', targetType: 'user', target: username, details: { admin, reason: 'first start' } });
      }
      return true;
    });
  }

  async list(afterId: number, limit: number): Promise<Page<User>> {
    const records = await userRepository.list(this.deps.db, afterId, limit + 1);
    const items = await this.present(records.slice(0, limit));
    const last = records.length > limit ? records[limit - 1] : undefined;
    return { items, next: last ? encodeCursor(last.id) : null };
  }

  async require(username: string, db: Executor = this.deps.db): Promise<UserRecord> {
    const user = await userRepository.findByName(db, username);
    if (!user) throw userNotFound(username);
    return user;
  }

  async requireById(id: number, db: Executor = this.deps.db): Promise<UserRecord> {
    const user = await userRepository.findById(db, id);
    if (!user) throw new DomainError('USER_NOT_FOUND', `user #${id} does not exist`);
    return user;
  }

  /** The account (with its hash and backend, for the login path), or undefined. */
  find(username: string): Promise<UserRecord | undefined> {
    return userRepository.findByName(this.deps.db, username);
  }

  countActive(db: Executor, ids: number[]): Promise<number> {
    return userRepository.countActive(db, ids);
  }

  /** Users as the API shows them, with their direct roles and groups. */
  async present(users: UserRecord[], db: Executor = this.deps.db): Promise<User[]> {
    const access = await this.deps.access().describe(db, users.map((u) => u.id));
    return users.map((user) => {
      const summary = access.get(user.id) ?? { admin: false, roles: [], groups: [] };
      return {
        id: user.id,
        username: user.username,
        admin: summary.admin,
        active: user.active,
        auth: user.auth,
        roles: summary.roles,
        groups: summary.groups,
        agentUser: user.agentUser,
        defaultGroup: user.defaultGroup?.path ?? null,
        createdAt: toIso(user.createdAt),
        updatedAt: toIso(user.updatedAt),
      };
    });
  }

  async presentOne(user: UserRecord, db: Executor = this.deps.db): Promise<User> {
    const [presented] = await this.present([user], db);
    return presented!;
  }

  /** A user whose password Trainyard checks (internal), or one of a configured backend (no password here). */
  async create(
    actor: AuditActor,
    input: { username: string; password: string; admin: boolean; active: boolean; auth: AuthBackendName },
  ): Promise<User> {
    const { db, clock, hasher, audit } = this.deps;
    const internal = input.auth === 'internal';
    if (internal) this.checkPolicy(input.password);
    else this.requireConfigured(input.auth);
    if (await userRepository.findByName(db, input.username)) throw userExists(input.username);
    const passwordHash = internal ? await hasher.hash(input.password) : NO_PASSWORD;
    try {
      return await db.transaction().execute(async (trx) => {
        const user = await userRepository.insert(trx, {
          username: input.username,
          passwordHash,
          active: input.active,
          auth: input.auth,
          now: clock.now(),
        });
        await this.deps.access().userCreated(trx, actor, user, { admin: input.admin });
        await audit.record(trx, actor, {
          action: 'user.create',
          targetType: 'user',
          target: user.username,
          details: { admin: input.admin, active: input.active, auth: input.auth },
        });
        return this.presentOne(user, trx);
      });
    } catch (error) {
      // Two creates racing past the check above: the unique index decides.
      if (isUniqueViolation(error)) throw userExists(input.username);
      throw error;
    }
  }

  /**
   * A user whose first login through `auth.auto_provision` succeeded: active, holding the default
   * role (`security.default_role`) and nothing else, linked to the directory's Unix identity when
   * it gave one. Recorded in the audit log as the system's doing. A login racing it gets the user
   * the other one made.
   */
  async provision(username: string, auth: AuthBackendName, link: UnixIdentity | undefined): Promise<UserRecord> {
    const { db, clock, audit } = this.deps;
    try {
      return await db.transaction().execute(async (trx) => {
        if (link) await this.assertUidFree(trx, username, undefined, link.uid);
        const user = await userRepository.insert(trx, { username, passwordHash: NO_PASSWORD, active: true, auth, agentUser: link, now: clock.now() });
        await this.deps.access().userCreated(trx, null, user, { admin: false });
        await audit.record(trx, null, {
          action: 'user.create',
          targetType: 'user',
          target: username,
          details: { admin: false, active: true, auth, reason: 'first login', ...(link ? { agentUser: link } : {}) },
        });
        return user;
      });
    } catch (error) {
      if (isUniqueViolation(error)) return this.require(username);
      throw error;
    }
  }

  /**
   * Activate/deactivate, the admin flag and the auth backend, in one transaction: deactivation ends
   * the user's sessions and tokens; a move to another backend forgets the Trainyard password and
   * ends the user's sessions but `keepSessionId` (the caller's own), as a password change does;
   * nothing commits that leaves no active admin.
   */
  async update(
    actor: AuditActor,
    username: string,
    changes: { active?: boolean; admin?: boolean; auth?: AuthBackendName; defaultGroup?: string | null },
    keepSessionId?: number,
  ): Promise<User> {
    const { db, clock, audit } = this.deps;
    if (changes.auth && changes.auth !== 'internal') this.requireConfigured(changes.auth);
    return db.transaction().execute(async (trx) => {
      let user = await this.require(username, trx);
      if (changes.auth !== undefined && changes.auth !== user.auth) {
        const from = user.auth;
        user = await userRepository.update(trx, user.id, { auth: changes.auth, passwordHash: NO_PASSWORD, now: clock.now() });
        for (const listener of this.listeners) await listener.passwordChanged?.(trx, user, keepSessionId);
        await audit.record(trx, actor, { action: 'user.auth', targetType: 'user', target: user.username, details: { from, to: user.auth } });
      }
      if (changes.active !== undefined && changes.active !== user.active) {
        user = await userRepository.update(trx, user.id, { active: changes.active, now: clock.now() });
        if (!user.active) for (const listener of this.listeners) await listener.userDeactivated?.(trx, user);
        await audit.record(trx, actor, { action: user.active ? 'user.activate' : 'user.deactivate', targetType: 'user', target: user.username });
      }
      if (changes.admin !== undefined) await this.deps.access().setAdmin(trx, actor, user, changes.admin);
      if (changes.defaultGroup !== undefined) user = await this.setDefaultGroup(trx, actor, user, changes.defaultGroup);
      if (changes.active === false || changes.admin === false) {
        const what = changes.active === false ? `deactivating ${user.username}` : `taking the admin role from ${user.username}`;
        await this.deps.access().assertAdminRemains(trx, what);
      }
      return this.presentOne(user, trx);
    });
  }

  /** Sets a password and ends the user's sessions, except `keepSessionId` (the caller's own). */
  async setPassword(actor: AuditActor, target: UserRecord, password: string, keepSessionId?: number): Promise<void> {
    const { db, clock, hasher, audit, auth } = this.deps;
    if (target.auth !== 'internal') {
      throw new DomainError(
        'PASSWORD_MANAGED_ELSEWHERE',
        `${target.username}'s password lives in ${auth.passwordHome(target.auth)}: change it there (Trainyard keeps no password for this user)`,
      );
    }
    this.checkPolicy(password);
    const passwordHash = await hasher.hash(password);
    await db.transaction().execute(async (trx) => {
      const user = await userRepository.update(trx, target.id, { passwordHash, now: clock.now() });
      for (const listener of this.listeners) await listener.passwordChanged?.(trx, user, keepSessionId);
      await audit.record(trx, actor, { action: 'user.password', targetType: 'user', target: user.username });
    });
  }

  async setAgentUser(actor: AuditActor, username: string, link: UnixIdentity | null): Promise<User> {
    const { db, clock, audit } = this.deps;
    return db.transaction().execute(async (trx) => {
      const before = await this.require(username, trx);
      if (link) await this.assertUidFree(trx, before.username, before.id, link.uid);
      const user = await userRepository.update(trx, before.id, { agentUser: link, now: clock.now() });
      await audit.record(trx, actor, {
        action: link ? 'user.link' : 'user.unlink',
        targetType: 'user',
        target: user.username,
        details: link ? { agentUser: link, previous: before.agentUser } : { previous: before.agentUser },
      });
      return this.presentOne(user, trx);
    });
  }

  /**
   * A uid a group's range gave one member is theirs for good (files on shared disks carry it):
   * linking anyone else to it would run their tasks as that member.
   */
  private async assertUidFree(trx: Executor, username: string, userId: number | undefined, uid: number): Promise<void> {
    const owner = await this.deps.uids().uidOwner(trx, uid);
    if (owner && owner.userId !== userId) {
      throw new DomainError(
        'UNIX_ID_TAKEN',
        `uid ${uid} is ${owner.username}'s: the uid range of group ${owner.groupPath} gave it to them, and ${username}'s tasks would run as ${owner.username}; link ${username} to another uid`,
      );
    }
  }

  /** The group the user's tasks go to when they name none: one they are a direct member of, or none. */
  private async setDefaultGroup(trx: Executor, actor: AuditActor, user: UserRecord, path: string | null): Promise<UserRecord> {
    let groupId: number | null = null;
    if (path !== null) {
      const group = await this.deps.groups().membership(trx, path, user.id);
      if (!group) throw new DomainError('GROUP_NOT_FOUND', `group '${path}' does not exist`);
      if (!group.member) {
        throw new DomainError('MEMBER_NOT_FOUND', `${user.username} is not a direct member of ${path}: add them first (yard group add-member ${path} ${user.username})`);
      }
      groupId = group.id;
    }
    const updated = await userRepository.update(trx, user.id, { defaultGroupId: groupId, now: this.deps.clock.now() });
    await this.deps.audit.record(trx, actor, {
      action: 'user.default_group',
      targetType: 'user',
      target: user.username,
      details: { from: user.defaultGroup?.path ?? null, to: path },
    });
    return updated;
  }

  private requireConfigured(name: AuthBackendName): void {
    if (!this.deps.auth.isConfigured(name)) {
      throw new DomainError('INVALID_INPUT', `auth: ${name} is not configured on this master: add auth.${name} to master.yaml first`);
    }
  }

  private checkPolicy(password: string): void {
    const min = this.deps.passwordMinLength;
    if (password.length < min) {
      throw new DomainError('PASSWORD_POLICY', `password must be at least ${min} characters long`);
    }
  }
}

const userExists = (username: string) => new DomainError('USER_EXISTS', `user '${username}' already exists`);
export const userNotFound = (username: string) => new DomainError('USER_NOT_FOUND', `user '${username}' does not exist`);

/** The hash of a user whose password lives elsewhere: no argon2 string, so it never verifies. */
const NO_PASSWORD = '!';
