import { randomBytes } from 'node:crypto';
import { API_TOKEN_PREFIX, type ApiTokenInfo, type CreatedApiToken } from '@trainyard/shared';
import type { AuditActor, AuditService } from '../audit/audit-service.js';
import { toIso, type Clock } from '../clock.js';
import { parseDuration } from '../config/duration.js';
import type { Db, Executor } from '../db/database.js';
import { isUniqueViolation } from '../db/dialect.js';
import { DomainError } from '../errors.js';
import type { SessionOwner } from '../sessions/session-repository.js';
import { hashToken } from '../sessions/session-tokens.js';
import type { UserRecord } from '../users/user-repository.js';
import type { UserListener } from '../users/user-service.js';
import { tokenRepository, type ApiTokenRecord } from './token-repository.js';

const TOUCH_INTERVAL_MS = 60_000;

const UNAUTHENTICATED = (why: string) => new DomainError('UNAUTHENTICATED', `API token ${why}: create a new one with \`yard token create NAME\``);

/**
 * Personal API tokens for scripts: shown once, stored as SHA-256, named per user, optionally
 * expiring. Whether one may still be used (its owner active, holding access_api) is checked on
 * every request by the authz `tokens.use` check; deactivating the owner deletes them.
 */
export class TokenService implements UserListener {
  constructor(private readonly deps: { db: Db; clock: Clock; audit: AuditService }) {}

  async create(actor: AuditActor, name: string, expires: string | undefined): Promise<CreatedApiToken> {
    const { db, clock, audit } = this.deps;
    const lifetime = expires === undefined ? undefined : parseDuration(expires);
    if (expires !== undefined && lifetime === undefined) {
      throw new DomainError('INVALID_INPUT', `expires: '${expires}' is not a duration such as "90d", "12h" or "30m"`);
    }
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const now = clock.now();
    const exists = () => new DomainError('TOKEN_EXISTS', `you already have a token named '${name}': revoke it first, or pick another name`);
    const record = await db.transaction().execute(async (trx) => {
      // The owner's row is held: a deactivation (which deletes their tokens) cannot miss this one.
      if (!(await tokenRepository.lockActiveOwner(trx, actor.userId))) {
        throw new DomainError('USER_INACTIVE', `user '${actor.username}' is deactivated and cannot create tokens`);
      }
      if (await tokenRepository.findByName(trx, actor.userId, name)) throw exists();
      const created = await tokenRepository.insert(trx, {
        userId: actor.userId,
        name,
        tokenHash: hashToken(token),
        now,
        expiresAt: lifetime === undefined ? null : now + lifetime,
      });
      await audit.record(trx, actor, {
        action: 'token.create',
        targetType: 'token',
        target: `${actor.username}/${name}`,
        details: { expiresAt: created.expiresAt === null ? null : toIso(created.expiresAt) },
      });
      return created;
    }).catch((error: unknown) => {
      // Two creates of one name at once: the unique index decides.
      throw isUniqueViolation(error) ? exists() : error;
    });
    return { ...toInfo(record, actor.username), token };
  }

  async list(user: { id: number; username: string }): Promise<ApiTokenInfo[]> {
    return (await tokenRepository.list(this.deps.db, user.id)).map((t) => toInfo(t, user.username));
  }

  async revoke(actor: AuditActor, user: { id: number; username: string }, name: string): Promise<ApiTokenInfo> {
    const { db, audit } = this.deps;
    return db.transaction().execute(async (trx) => {
      const token = await tokenRepository.findByName(trx, user.id, name);
      if (!token) throw new DomainError('TOKEN_NOT_FOUND', `${user.username} has no token named '${name}': \`yard token list\` shows them`);
      await tokenRepository.delete(trx, token.id);
      await audit.record(trx, actor, { action: 'token.revoke', targetType: 'token', target: `${user.username}/${name}` });
      return toInfo(token, user.username);
    });
  }

  /** The token and its owner, or UNAUTHENTICATED when it is unknown, revoked or expired. */
  async authenticate(token: string): Promise<{ token: ApiTokenRecord; user: SessionOwner }> {
    const { db, clock } = this.deps;
    const found = await tokenRepository.findWithUser(db, hashToken(token));
    if (!found) throw UNAUTHENTICATED('unknown or revoked');
    const now = clock.now();
    if (found.token.expiresAt !== null && found.token.expiresAt <= now) throw UNAUTHENTICATED(`'${found.token.name}' has expired`);
    if (found.token.lastUsedAt === null || now - found.token.lastUsedAt > TOUCH_INTERVAL_MS) {
      await tokenRepository.touch(db, found.token.id, now);
    }
    return found;
  }

  async userDeactivated(trx: Executor, user: UserRecord): Promise<void> {
    await tokenRepository.deleteForUser(trx, user.id);
  }
}

function toInfo(token: ApiTokenRecord, username: string): ApiTokenInfo {
  return {
    id: token.id,
    name: token.name,
    user: username,
    createdAt: toIso(token.createdAt),
    expiresAt: token.expiresAt === null ? null : toIso(token.expiresAt),
    lastUsedAt: token.lastUsedAt === null ? null : toIso(token.lastUsedAt),
  };
}
