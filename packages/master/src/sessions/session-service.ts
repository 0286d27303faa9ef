import { USERNAME_PATTERN, type LoginResponse, type SessionKind, type SessionListItem } from '@trainyard/shared';
import type { Logger } from 'pino';
import type { AuditActor, AuditService } from '../audit/audit-service.js';
import type { AuthBackends } from '../auth/auth-backends.js';
import type { DirectoryGroupSync } from '../auth/directory-groups.js';
import { toIso, type Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import { DomainError } from '../errors.js';
import type { UserRecord } from '../users/user-repository.js';
import type { UserListener, UserService } from '../users/user-service.js';
import type { LoginThrottle } from './login-throttle.js';
import { sessionRepository, type SessionOwner, type SessionRecord } from './session-repository.js';
import { hashToken, newToken } from './session-tokens.js';

// Writing last_used_at on every request would turn each read into a write; once a minute is plenty.
const TOUCH_INTERVAL_MS = 60_000;
const MAX_CLIENT_LENGTH = 200;

const INVALID_CREDENTIALS = () => new DomainError('INVALID_CREDENTIALS', 'invalid username or password');
const USER_INACTIVE = (username: string) =>
  new DomainError('USER_INACTIVE', `the account '${username}' is not active: an admin can activate it again (yard user activate ${username})`);
export const UNAUTHENTICATED = () =>
  new DomainError('UNAUTHENTICATED', 'not logged in, or the session expired or was ended: log in again');

/** Where a login came from, as `yard user sessions` shows it. */
export interface LoginOrigin {
  address: string;
  /** The User-Agent header: `yard/0.1.0 node/20.19.0`, or a browser's. */
  client: string | undefined;
}

/** Logins and the sessions they open; ends them when their user is deactivated or changes password. */
export class SessionService implements UserListener {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      logger: Logger;
      auth: AuthBackends;
      /** Applies `auth.ldap.groups.map` (the groups domain). */
      directoryGroups: DirectoryGroupSync;
      throttle: LoginThrottle;
      sessionTtlMs: number;
      users: UserService;
      audit: AuditService;
    },
  ) {}

  /**
   * Every backend's login: the attempt is counted first, the user's backend (or, for a name with no
   * user, the auto-provisioning one) checks the password, and a deactivated user fails whatever it
   * said. A wrong password, or a name with no user, reads "invalid username or password"; the right
   * password of a deactivated user is told the account is not active (403 USER_INACTIVE, as det
   * says it): only who knows the password learns it, and the attempt still counts as a failure.
   * A backend that could not answer says so (503), and that attempt is not held against the user.
   */
  async login(username: string, password: string, kind: SessionKind, from: LoginOrigin): Promise<LoginResponse> {
    const { users, auth, throttle, logger } = this.deps;
    const key = username.trim().toLowerCase();
    // Counted before any backend is asked, so that parallel guesses cannot outrun the count.
    const attempt = await throttle.reserve(key, from.address);
    const valid = USERNAME_PATTERN.test(key);
    let user = valid ? await users.find(key) : undefined;
    const backend = user?.auth ?? (valid ? auth.autoProvision : undefined) ?? 'internal';
    const verdict = await auth.verify(backend, { username: key, password, user });
    if (verdict.outcome === 'unavailable') {
      await attempt.refund();
      logger.warn({ username: key, backend, reason: verdict.reason, err: verdict.cause }, 'authentication backend unavailable');
      throw new DomainError('AUTH_BACKEND_UNAVAILABLE', verdict.reason);
    }
    if (verdict.outcome === 'wrong') throw INVALID_CREDENTIALS();
    user ??= await users.provision(key, backend, verdict.attributes?.unix);
    // After the backend has answered, as before: the same time spent whether or not the account is active.
    if (!user.active) throw USER_INACTIVE(user.username);
    await this.applyDirectoryGroups(user, verdict.attributes?.groups);
    await attempt.succeeded();
    return this.open(user, kind, from);
  }

  private async applyDirectoryGroups(user: UserRecord, groups: string[] | undefined): Promise<void> {
    const membership = this.deps.auth.groupMembership(groups);
    if (membership) await this.deps.directoryGroups.sync({ id: user.id, username: user.username }, membership);
  }

  private async open(user: UserRecord, kind: SessionKind, from: LoginOrigin): Promise<LoginResponse> {
    const { db, clock, sessionTtlMs, users } = this.deps;
    const token = newToken();
    const now = clock.now();
    const session = await db.transaction().execute(async (trx) => {
      // Only while the user is as the login found them (active, with the password that was checked):
      // a deactivation or password change that ends the user's sessions cannot miss one opening
      // beside it, on any connection, and a login that raced a password change fails.
      if (!(await sessionRepository.lockOwner(trx, user.id, user.passwordHash))) throw INVALID_CREDENTIALS();
      return sessionRepository.insert(trx, {
        tokenHash: hashToken(token),
        userId: user.id,
        kind,
        client: cleanClient(from.client),
        address: from.address,
        now,
        expiresAt: now + sessionTtlMs,
      });
    });
    return {
      token,
      user: await users.presentOne(user),
      session: { kind, createdAt: toIso(session.createdAt), expiresAt: toIso(session.expiresAt) },
    };
  }

  /** The live session behind a token and its user, or UNAUTHENTICATED. */
  async authenticate(token: string): Promise<{ session: SessionRecord; user: SessionOwner }> {
    const { db, clock } = this.deps;
    const found = await sessionRepository.findWithUser(db, hashToken(token));
    if (!found) throw UNAUTHENTICATED();
    const now = clock.now();
    if (found.session.expiresAt <= now) {
      await sessionRepository.delete(db, found.session.id);
      throw UNAUTHENTICATED();
    }
    // Deactivation deletes sessions already; this guards against any that slipped through.
    if (!found.user.active) throw UNAUTHENTICATED();
    if (now - found.session.lastUsedAt > TOUCH_INTERVAL_MS) await sessionRepository.touch(db, found.session.id, now);
    return found;
  }

  /** A user's live sessions; `currentId` marks the one asking. */
  async list(user: { id: number; username: string }, currentId: number | undefined): Promise<SessionListItem[]> {
    const sessions = await sessionRepository.listLive(this.deps.db, user.id, this.deps.clock.now());
    return sessions.map((s) => ({
      id: s.id,
      user: user.username,
      kind: s.kind,
      client: s.client,
      address: s.address,
      createdAt: toIso(s.createdAt),
      lastUsedAt: toIso(s.lastUsedAt),
      expiresAt: toIso(s.expiresAt),
      current: s.id === currentId,
    }));
  }

  async require(id: number): Promise<SessionRecord & { username: string }> {
    const session = await sessionRepository.findById(this.deps.db, id);
    if (!session || session.expiresAt <= this.deps.clock.now()) {
      throw new DomainError('SESSION_NOT_FOUND', `session ${id} does not exist or has ended: \`yard user sessions\` lists the live ones`);
    }
    return session;
  }

  async revoke(actor: AuditActor, session: SessionRecord & { username: string }): Promise<void> {
    const { db, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      await sessionRepository.delete(trx, session.id);
      await audit.record(trx, actor, {
        action: 'session.revoke',
        targetType: 'user',
        target: session.username,
        details: { session: session.id, kind: session.kind, client: session.client },
      });
    });
  }

  async logout(sessionId: number): Promise<void> {
    await sessionRepository.delete(this.deps.db, sessionId);
  }

  /** Ends every session of a user (`yard user logout --all`); returns how many there were. */
  logoutAll(userId: number): Promise<number> {
    return sessionRepository.deleteForUser(this.deps.db, userId);
  }

  async purgeExpired(): Promise<void> {
    await sessionRepository.deleteExpired(this.deps.db, this.deps.clock.now());
  }

  async userDeactivated(trx: Executor, user: UserRecord): Promise<void> {
    await sessionRepository.deleteForUser(trx, user.id);
  }

  async passwordChanged(trx: Executor, user: UserRecord, keepSessionId: number | undefined): Promise<void> {
    await sessionRepository.deleteForUser(trx, user.id, keepSessionId);
  }
}

/** A User-Agent as shown to people: one line, printable, bounded. */
function cleanClient(client: string | undefined): string | null {
  const text = client?.replace(/[^\x20-\x7e]/g, '').trim().slice(0, MAX_CLIENT_LENGTH);
  return text ? text : null;
}
