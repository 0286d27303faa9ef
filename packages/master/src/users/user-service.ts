import {
  ADMIN_ACCOUNT,
  DEFAULT_ACCOUNT,
  encodeCursor,
  type Page,
  type UnixIdentity,
  type User,
} from '@trainyard/shared';
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
    const row = await userRepository.findByName(this.deps.db, username);
    if (!row) throw new DomainError('USER_NOT_FOUND', `user '${username}' does not exist`);
    return row;
  }

  async create(input: { username: string; password: string; admin: boolean; active: boolean }): Promise<User> {
    const { db, clock, hasher } = this.deps;
    this.checkPolicy(input.password);
    if (await userRepository.findByName(db, input.username)) throw userExists(input.username);
    const hash = await hasher.hash(input.password);
    const now = clock.now();
    try {
      const row = await userRepository.insert(db, {
        username: input.username,
        password_hash: hash,
        admin: input.admin ? 1 : 0,
        active: input.active ? 1 : 0,
        created_at: now,
        updated_at: now,
      });
      return toUser(row);
    } catch (error) {
      // Two creates racing past the check above: the unique index decides.
      if (String((error as { code?: string }).code).startsWith('SQLITE_CONSTRAINT')) throw userExists(input.username);
      throw error;
    }
  }

  /** Activate/deactivate and grant/revoke admin; deactivation ends the user's sessions in the same transaction. */
  async update(username: string, changes: { active?: boolean; admin?: boolean }): Promise<User> {
    const { db, clock } = this.deps;
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
      const updated = await userRepository.update(trx, user.id, {
        ...(changes.active === undefined ? {} : { active: changes.active ? 1 : 0 }),
        ...(changes.admin === undefined ? {} : { admin: changes.admin ? 1 : 0 }),
        updated_at: clock.now(),
      });
      if (changes.active === false) await sessionRepository.deleteForUser(trx, user.id);
      return updated;
    });
    return toUser(row);
  }

  /** Sets a password and ends the user's sessions, except `keepSessionId` (the caller's own). */
  async setPassword(target: UserRow, password: string, keepSessionId?: number): Promise<void> {
    const { db, clock, hasher } = this.deps;
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

  private checkPolicy(password: string): void {
    const min = this.deps.passwordMinLength;
    if (password.length < min) {
      throw new DomainError('PASSWORD_POLICY', `password must be at least ${min} characters long`);
    }
  }
}

const userExists = (username: string) => new DomainError('USER_EXISTS', `user '${username}' already exists`);
