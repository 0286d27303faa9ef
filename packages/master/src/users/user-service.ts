import {
  ADMIN_ACCOUNT,
  DEFAULT_ACCOUNT,
  encodeCursor,
  type AuthBackendName,
  type Page,
  type UnixIdentity,
  type User,
} from '@trainyard/shared';
import type { AuthBackends } from '../auth/auth-backends.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import type { UserRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { sessionRepository } from '../sessions/session-repository.js';
import type { PasswordHasher } from './password-hasher.js';
import { toUser } from './user-mapper.js';
import { userRepository } from './user-repository.js';

export class UserService {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      hasher: PasswordHasher;
      auth: AuthBackends;
      passwordMinLength: number;
    },
  ) {}

  /** First start: `admin` (admin) and the default account `yard`, in one transaction. */
  async bootstrap(initialAdminPassword = ''): Promise<boolean> {
    const { db, clock, hasher } = this.deps;
    if ((await userRepository.count(db)) > 0) return false;
    const [adminHash, yardHash] = await Promise.all([hasher.hash(initialAdminPassword), hasher.hash('')]);
    const now = clock.now();
    await db.transaction().execute(async (trx) => {
      const base = { active: 1, created_at: now, updated_at: now };
      await userRepository.insert(trx, { ...base, username: ADMIN_ACCOUNT, admin: 1, password_hash: adminHash });
      await userRepository.insert(trx, { ...base, username: DEFAULT_ACCOUNT, admin: 0, password_hash: yardHash });
    });
    return true;
  }

  async list(afterId: number, limit: number): Promise<Page<User>> {
    const rows = await userRepository.list(this.deps.db, afterId, limit + 1);
    const items = rows.slice(0, limit).map(toUser);
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return { items, next: last ? encodeCursor(last.id) : null };
  }

  async require(username: string): Promise<UserRow> {
    const row = await this.find(username);
    if (!row) throw new DomainError('USER_NOT_FOUND', `user '${username}' does not exist`);
    return row;
  }

  find(username: string): Promise<UserRow | undefined> {
    return userRepository.findByName(this.deps.db, username);
  }

  async create(input: { username: string; password: string; admin: boolean; active: boolean; auth: AuthBackendName }): Promise<User> {
    const { db, clock, hasher } = this.deps;
    const internal = input.auth === 'internal';
    if (internal) this.checkPolicy(input.password);
    else this.requireConfigured(input.auth);
    if (await userRepository.findByName(db, input.username)) throw userExists(input.username);
    const hash = internal ? await hasher.hash(input.password) : NO_PASSWORD;
    const now = clock.now();
    try {
      const row = await userRepository.insert(db, {
        username: input.username,
        password_hash: hash,
        admin: input.admin ? 1 : 0,
        active: input.active ? 1 : 0,
        auth: input.auth,
        created_at: now,
        updated_at: now,
      });
      return toUser(row);
    } catch (error) {
      // Two creates racing past the check above: the unique index decides.
      if (isUniqueViolation(error)) throw userExists(input.username);
      throw error;
    }
  }

  /**
   * A user whose first login through `auth.auto_provision` succeeded: not an admin, active, linked
   * to the directory's Unix identity when it gave one. A login racing it gets the row it made.
   */
  async provision(username: string, auth: AuthBackendName, link: UnixIdentity | undefined): Promise<UserRow> {
    const { db, clock } = this.deps;
    const now = clock.now();
    try {
      return await userRepository.insert(db, {
        username,
        password_hash: NO_PASSWORD,
        admin: 0,
        active: 1,
        auth,
        agent_uid: link?.uid ?? null,
        agent_user: link?.user ?? null,
        agent_gid: link?.gid ?? null,
        agent_group: link?.group ?? null,
        created_at: now,
        updated_at: now,
      });
    } catch (error) {
      if (isUniqueViolation(error)) return this.require(username);
      throw error;
    }
  }

  /**
   * Activate/deactivate, grant/revoke admin, and move a user to another auth backend. Deactivation
   * and a backend change end the user's sessions in the same transaction (but `keepSessionId`, the
   * caller's own); leaving `internal` forgets the Trainyard password.
   */
  async update(
    username: string,
    changes: { active?: boolean; admin?: boolean; auth?: AuthBackendName },
    keepSessionId?: number,
  ): Promise<User> {
    const { db, clock } = this.deps;
    if (changes.auth && changes.auth !== 'internal') this.requireConfigured(changes.auth);
    const row = await db.transaction().execute(async (trx) => {
      const user = await userRepository.findByName(trx, username);
      if (!user) throw new DomainError('USER_NOT_FOUND', `user '${username}' does not exist`);
      const losesAdmin =
        user.admin === 1 && user.active === 1 && (changes.active === false || changes.admin === false);
      if (losesAdmin && (await userRepository.countActiveAdmins(trx)) <= 1) {
        throw new DomainError(
          'CONFLICT',
          `'${user.username}' is the last active admin: make another user admin first`,
        );
      }
      const movesAuth = changes.auth !== undefined && changes.auth !== user.auth;
      const updated = await userRepository.update(trx, user.id, {
        ...(changes.active === undefined ? {} : { active: changes.active ? 1 : 0 }),
        ...(changes.admin === undefined ? {} : { admin: changes.admin ? 1 : 0 }),
        ...(movesAuth ? { auth: changes.auth, password_hash: NO_PASSWORD } : {}),
        updated_at: clock.now(),
      });
      if (changes.active === false) await sessionRepository.deleteForUser(trx, user.id);
      else if (movesAuth) await sessionRepository.deleteForUser(trx, user.id, keepSessionId);
      return updated;
    });
    return toUser(row);
  }

  /** Sets a password and ends the user's sessions, except `keepSessionId` (the caller's own). */
  async setPassword(target: UserRow, password: string, keepSessionId?: number): Promise<void> {
    const { db, clock, hasher, auth } = this.deps;
    if (target.auth !== 'internal') {
      throw new DomainError(
        'PASSWORD_MANAGED_ELSEWHERE',
        `${target.username}'s password lives in ${auth.passwordHome(target.auth)}: change it there (Trainyard keeps no password for this user)`,
      );
    }
    this.checkPolicy(password);
    const hash = await hasher.hash(password);
    await db.transaction().execute(async (trx) => {
      await userRepository.update(trx, target.id, { password_hash: hash, updated_at: clock.now() });
      await sessionRepository.deleteForUser(trx, target.id, keepSessionId);
    });
  }

  async setAgentUser(username: string, link: UnixIdentity | null): Promise<User> {
    const user = await this.require(username);
    return toUser(await userRepository.setAgentUser(this.deps.db, user.id, link, this.deps.clock.now()));
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
const isUniqueViolation = (error: unknown) => String((error as { code?: string }).code).startsWith('SQLITE_CONSTRAINT');

/** The hash of a user whose password lives elsewhere: no argon2 string, so it never verifies. */
const NO_PASSWORD = '!';
