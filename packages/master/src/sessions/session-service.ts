import { USERNAME_PATTERN, type LoginResponse, type SessionKind } from '@trainyard/shared';
import type { Logger } from 'pino';
import type { Actor } from '../actor.js';
import type { AuthBackends } from '../auth/auth-backends.js';
import type { DirectoryGroupSync } from '../auth/directory-groups.js';
import { toIso, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import type { UserRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { toUser } from '../users/user-mapper.js';
import type { UserService } from '../users/user-service.js';
import type { LoginThrottle } from './login-throttle.js';
import { sessionRepository } from './session-repository.js';
import { hashToken, newToken } from './session-tokens.js';

// Writing last_used_at on every request would turn each read into a write; once a minute is plenty.
const TOUCH_INTERVAL_MS = 60_000;

const INVALID_CREDENTIALS = () => new DomainError('INVALID_CREDENTIALS', 'invalid username or password');
const UNAUTHENTICATED = () =>
  new DomainError('UNAUTHENTICATED', 'not logged in, or the session expired or was ended: log in again');

export class SessionService {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      logger: Logger;
      users: UserService;
      auth: AuthBackends;
      /** Set once the groups domain exists; without it directory groups are not applied. */
      directoryGroups?: DirectoryGroupSync;
      throttle: LoginThrottle;
      sessionTtlMs: number;
    },
  ) {}

  /**
   * Every backend's login: the attempt is counted first, the user's backend (or, for a name with no
   * user, the auto-provisioning one) checks the password, and a deactivated user fails whatever it
   * said. Every refusal reads "invalid username or password"; only a backend that could not answer
   * says so (503), and that attempt is not held against the user.
   */
  async login(username: string, password: string, kind: SessionKind, address: string): Promise<LoginResponse> {
    const { users, auth, throttle, logger } = this.deps;
    const key = username.trim().toLowerCase();
    await throttle.attempt(key, address);
    const valid = USERNAME_PATTERN.test(key);
    let user = valid ? await users.find(key) : undefined;
    const backend = user?.auth ?? (valid ? auth.autoProvision : undefined) ?? 'internal';
    const verdict = await auth.verify(backend, { username: key, password, user });
    if (verdict.outcome === 'unavailable') {
      await throttle.refund(key, address);
      logger.warn({ username: key, backend, reason: verdict.reason, err: verdict.cause }, 'authentication backend unavailable');
      throw new DomainError('AUTH_BACKEND_UNAVAILABLE', verdict.reason);
    }
    if (verdict.outcome === 'wrong') throw INVALID_CREDENTIALS();
    user ??= await users.provision(key, backend, verdict.attributes?.unix);
    // A deactivated user fails exactly like a wrong password: nothing to learn from the answer.
    if (user.active !== 1) throw INVALID_CREDENTIALS();
    await this.applyDirectoryGroups(user, verdict.attributes?.groups);
    await throttle.succeeded(key, address);
    return this.open(user, kind);
  }

  private async applyDirectoryGroups(user: UserRow, groups: string[] | undefined): Promise<void> {
    const membership = this.deps.auth.groupMembership(groups);
    if (!membership) return;
    if (!this.deps.directoryGroups) {
      this.deps.logger.debug({ username: user.username, ...membership }, 'directory groups mapped, but no groups service to apply them');
      return;
    }
    await this.deps.directoryGroups.sync({ id: user.id, username: user.username }, membership);
  }

  private async open(user: UserRow, kind: SessionKind): Promise<LoginResponse> {
    const { db, clock, sessionTtlMs } = this.deps;
    const token = newToken();
    const now = clock.now();
    const session = await sessionRepository.insert(db, {
      token_hash: hashToken(token),
      user_id: user.id,
      kind,
      created_at: now,
      expires_at: now + sessionTtlMs,
      last_used_at: now,
    });
    return {
      token,
      user: toUser(user),
      session: { kind, createdAt: toIso(session.created_at), expiresAt: toIso(session.expires_at) },
    };
  }

  /** Resolves a bearer token to its actor, or throws UNAUTHENTICATED. */
  async authenticate(token: string | undefined): Promise<Actor> {
    const { db, clock } = this.deps;
    if (!token) throw UNAUTHENTICATED();
    const found = await sessionRepository.findWithUser(db, hashToken(token));
    if (!found) throw UNAUTHENTICATED();
    const now = clock.now();
    if (found.expires_at <= now) {
      await sessionRepository.delete(db, found.id);
      throw UNAUTHENTICATED();
    }
    // Deactivation deletes sessions already; this guards against any that slipped through.
    if (found.user.active !== 1) throw UNAUTHENTICATED();
    if (now - found.last_used_at > TOUCH_INTERVAL_MS) await sessionRepository.touch(db, found.id, now);
    return {
      userId: found.user.id,
      username: found.user.username,
      admin: found.user.admin === 1,
      session: {
        id: found.id,
        kind: found.kind as SessionKind,
        createdAt: found.created_at,
        expiresAt: found.expires_at,
      },
    };
  }

  async logout(actor: Actor): Promise<void> {
    await sessionRepository.delete(this.deps.db, actor.session.id);
  }

  async purgeExpired(): Promise<void> {
    await sessionRepository.deleteExpired(this.deps.db, this.deps.clock.now());
  }
}
