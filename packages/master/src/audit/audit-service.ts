import { encodeCursor, type AuditEntry, type Page } from '@trainyard/shared';
import { toIso, type Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import { auditRepository, type AuditFilter } from './audit-repository.js';

/** Who made a change: a signed-in user (an Actor fits), or null for the master itself. */
export interface AuditActor {
  userId: number;
  username: string;
}

/** A part of the master acting on its own, named in the log as `(<system>)`: `{system: 'ldap group sync'}`. */
export interface SystemActor {
  system: string;
}

export type AuditTargetType = 'user' | 'group' | 'role' | 'token' | 'session' | 'task' | 'agent' | 'agent_token' | 'policy' | 'quota' | 'image';

export interface AuditEvent {
  /** `<target type>.<verb>`, such as `group.rename` or `role.assign`. */
  action: string;
  targetType: AuditTargetType;
  /** The target's name: a user name, a group path, a role name, `alice/ci` for a token. */
  target: string;
  /** What changed: names and flags, never a password, token or hash. */
  details?: Record<string, unknown>;
}

/**
 * The audit log. Other domains call `record` inside the transaction that makes the change, so a
 * change and its entry are written together or not at all.
 */
export class AuditService {
  constructor(private readonly deps: { db: Db; clock: Clock }) {}

  async record(trx: Executor, actor: AuditActor | SystemActor | null, event: AuditEvent): Promise<void> {
    const system = actor !== null && 'system' in actor;
    await auditRepository.insert(trx, {
      at: this.deps.clock.now(),
      actorId: actor === null || system ? null : actor.userId,
      actorName: actor === null ? null : system ? `(${actor.system})` : actor.username,
      action: event.action,
      targetType: event.targetType,
      target: event.target,
      details: event.details ?? {},
    });
  }

  /** The details of the newest entry with one of `actions`, if any. */
  async lastDetails(actions: string[]): Promise<Record<string, unknown> | undefined> {
    return (await auditRepository.latest(this.deps.db, actions))?.details;
  }

  async list(filter: Omit<AuditFilter, 'sinceAt'> & { sinceMs?: number }): Promise<Page<AuditEntry>> {
    const { sinceMs, ...rest } = filter;
    const sinceAt = sinceMs === undefined ? undefined : this.deps.clock.now() - sinceMs;
    const records = await auditRepository.list(this.deps.db, {
      ...rest,
      ...(sinceAt === undefined ? {} : { sinceAt }),
      limit: filter.limit + 1,
    });
    const items = records.slice(0, filter.limit).map(
      (r): AuditEntry => ({
        id: r.id,
        time: toIso(r.at),
        actor: r.actorName,
        action: r.action,
        targetType: r.targetType,
        target: r.target,
        details: r.details,
      }),
    );
    const last = records.length > filter.limit ? records[filter.limit - 1] : undefined;
    return { items, next: last ? encodeCursor(last.id) : null };
  }
}
