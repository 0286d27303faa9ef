import type { LoginResponse, SessionKind } from '@trainyard/shared';
import type { Actor } from '../actor.js';
import { toIso, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { DomainError } from '../errors.js';
import type { PasswordHasher } from '../users/password-hasher.js';
import { toUser } from '../users/user-mapper.js';
import { userRepository } from '../users/user-repository.js';
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
      hasher: PasswordHasher;
      throttle: LoginThrottle;
      sessionTtlMs: number;
    },
  ) {}

  async login(username: string, password: string, kind: SessionKind, address: string): Promise<LoginResponse> {
    const { db, clock, hasher, throttle, sessionTtlMs } = this.deps;
    const key = username.trim().toLowerCase();
    // Counted before the hash is checked, so that parallel guesses cannot outrun the count.
    const attempt = await throttle.reserve(key, address);
    const user = await userRepository.findByName(db, key);
    const ok = user ? await hasher.verify(user.password_hash, password) : (await hasher.burn(password), false);
    // A deactivated user fails exactly like a wrong password: nothing to learn from the answer.
    if (!user || !ok || user.active !== 1) throw INVALID_CREDENTIALS();
    await attempt.succeeded();
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
