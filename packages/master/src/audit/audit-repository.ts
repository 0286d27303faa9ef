import type { Executor } from '../db/database.js';
import type { AuditRow } from '../db/schema.js';

export interface AuditRecord {
  id: number;
  at: number;
  actorId: number | null;
  actorName: string | null;
  action: string;
  targetType: string;
  target: string;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  /** Entries by this user, or about them (target_type user). */
  user?: { id: number; username: string };
  sinceAt?: number;
  /** Keyset: entries older than this id (the list runs newest first). */
  beforeId?: number;
  limit: number;
}

export const auditRepository = {
  async insert(db: Executor, record: Omit<AuditRecord, 'id'>): Promise<void> {
    await db
      .insertInto('audit_log')
      .values({
        at: record.at,
        actor_id: record.actorId,
        actor_name: record.actorName,
        action: record.action,
        target_type: record.targetType,
        target: record.target,
        details: JSON.stringify(record.details),
      })
      .execute();
  },

  async latest(db: Executor, actions: string[]): Promise<AuditRecord | undefined> {
    const row = await db.selectFrom('audit_log').selectAll().where('action', 'in', actions).orderBy('id', 'desc').limit(1).executeTakeFirst();
    return row && toRecord(row);
  },

  async list(db: Executor, filter: AuditFilter): Promise<AuditRecord[]> {
    let query = db.selectFrom('audit_log').selectAll();
    const { user } = filter;
    if (user) {
      query = query.where((eb) =>
        eb.or([eb('actor_id', '=', user.id), eb.and([eb('target_type', '=', 'user'), eb('target', '=', user.username)])]),
      );
    }
    if (filter.sinceAt !== undefined) query = query.where('at', '>=', filter.sinceAt);
    if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
    const rows = await query.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(toRecord);
  },
};

function toRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    actorId: row.actor_id,
    actorName: row.actor_name,
    action: row.action,
    targetType: row.target_type,
    target: row.target,
    details: parseDetails(row.details),
  };
}

function parseDetails(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.fromEntries(Object.entries(value)) : {};
}
