import { sql } from 'kysely';
import type { QuotaLimits } from '@trainyard/shared';
import { compileOnce } from '../db/compile-once.js';
import type { Executor } from '../db/database.js';
import { holdLock, jsonNumber } from '../db/dialect.js';
import type { QuotaRow } from '../db/schema.js';

export interface QuotaRecord extends QuotaLimits {
  id: number;
  name: string;
  /** A rolling budget window in milliseconds; null with `budgetWindow: 'month'` (the calendar month, UTC) or no budget. */
  budgetWindowMs: number | null;
  denyOnLimit: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface QuotaAssignmentRecord {
  quotaId: number;
  quota: string;
  userId: number | null;
  user: string | null;
  groupId: number | null;
  group: string | null;
}

/** What one task holds or asks for, as the quotas count it. */
export interface TaskLoad {
  ownerId: number;
  groupId: number | null;
  /** Its pool (a quota may count one pool only; guarantees are per pool). */
  pool: string;
  cpu: number;
  memory: number;
  gpus: number;
  /** False (`--no-preempt`): it never borrows beyond its group's guarantee. */
  preemptible: boolean;
}

/** A task holding a slot, with when its current run began (its assignment; a restart keeps its first started_at). */
export interface ActiveLoad extends TaskLoad {
  id: number;
  runStart: number;
  /** A kill or preemption is under way: it is being stopped. */
  stopping: boolean;
  /** A preemption is under way: its room is about to be given back. */
  preempting: boolean;
}

/** The columns of a quota's limits, for inserts and updates. */
export type QuotaColumns = Pick<
  QuotaRow,
  | 'max_running'
  | 'max_submitted'
  | 'cpu'
  | 'memory'
  | 'gpus'
  | 'max_runtime_ms'
  | 'per_user_running'
  | 'per_user_cpu'
  | 'per_user_memory'
  | 'per_user_gpus'
  | 'pool'
  | 'gpu_hours'
  | 'cpu_hours'
  | 'budget_window_ms'
  | 'budget_calendar'
>;

/** `30d` (a rolling window of that many milliseconds, written back in the largest whole unit) or `month`. */
export function budgetWindowText(row: Pick<QuotaRow, 'budget_window_ms' | 'budget_calendar'>): string | null {
  if (row.budget_calendar === 'month') return 'month';
  if (row.budget_window_ms === null) return null;
  const ms = row.budget_window_ms;
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}

const toRecord = (row: QuotaRow): QuotaRecord => {
  const perUser = [row.per_user_running, row.per_user_cpu, row.per_user_memory, row.per_user_gpus].some((v) => v !== null)
    ? { maxRunning: row.per_user_running, cpu: row.per_user_cpu, memory: row.per_user_memory, gpus: row.per_user_gpus }
    : null;
  return {
    id: row.id,
    name: row.name,
    maxRunning: row.max_running,
    maxSubmitted: row.max_submitted,
    cpu: row.cpu,
    memory: row.memory,
    gpus: row.gpus,
    maxRuntimeMs: row.max_runtime_ms,
    perUser,
    pool: row.pool,
    gpuHours: row.gpu_hours,
    cpuHours: row.cpu_hours,
    budgetWindow: budgetWindowText(row),
    budgetWindowMs: row.budget_calendar === 'month' ? null : row.budget_window_ms,
    denyOnLimit: row.deny_on_limit === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
};

// The task states that hold a slot on an agent, and those that count as submitted.
const ACTIVE = ['ASSIGNED', 'PULLING', 'RUNNING'] as const;
const UNFINISHED = ['QUEUED', ...ACTIVE] as const;

/** CPUs a task counts for: what it asked, or 1 when it named none (it still uses one). */
const cpuOf = (db: Executor) => sql<number>`coalesce(${jsonNumber(db, 'run_spec', ['resources', 'cpu'])}, 1)`;
const memoryOf = (db: Executor) => sql<number>`coalesce(${jsonNumber(db, 'run_spec', ['resources', 'memory'])}, 0)`;
const gpusOf = (db: Executor) => sql<number>`coalesce(${jsonNumber(db, 'run_spec', ['resources', 'gpus'])}, 0)`;

// A restarted task keeps its first started_at; its current run began after its last assignment.
// (The larger of the two, spelled the same in both stores: SQLite's two-argument max() is PostgreSQL's greatest().)
const runStart = sql<number>`case when coalesce(started_at, 0) > coalesce(assigned_at, 0) then coalesce(started_at, 0) else coalesce(assigned_at, 0) end`;

/** Counts an owner's unfinished tasks, no further than `upTo`; compiled once (it runs on every covered submission). */
const unfinishedOfOwner = compileOnce(
  (db: Executor, id: number, upTo: number) =>
    db
      .selectFrom(db.selectFrom('tasks').select('id').where('state', 'in', UNFINISHED).where('owner_id', '=', id).limit(upTo).as('capped'))
      .select((eb) => eb.fn.countAll<number>().as('n')),
  [-4_800_011, -4_800_013] as const,
);

/** Who a quota counts: an owner's tasks, or those charged to a set of groups (a group and its subtree); optionally one pool's only. */
export type QuotaPrincipal = { ownerId: number; pool?: string | null } | { groupIds: number[]; pool?: string | null };

export const quotaRepository = {
  async list(db: Executor): Promise<QuotaRecord[]> {
    return (await db.selectFrom('quotas').selectAll().orderBy('name').execute()).map(toRecord);
  },

  async findByName(db: Executor, name: string): Promise<QuotaRecord | undefined> {
    const row = await db.selectFrom('quotas').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toRecord(row);
  },

  async insert(db: Executor, name: string, limits: Partial<QuotaColumns>, denyOnLimit: boolean, now: number): Promise<void> {
    await db
      .insertInto('quotas')
      .values({ name, ...limits, deny_on_limit: denyOnLimit ? 1 : 0, created_at: now, updated_at: now })
      .execute();
  },

  async update(db: Executor, id: number, changes: Partial<QuotaColumns> & { deny_on_limit?: number }, now: number): Promise<void> {
    await db.updateTable('quotas').set({ ...changes, updated_at: now }).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: number): Promise<void> {
    await db.deleteFrom('quotas').where('id', '=', id).execute();
  },

  /** Every assignment with its quota's, user's and group's names. */
  async assignments(db: Executor, quotaId?: number): Promise<QuotaAssignmentRecord[]> {
    let query = db
      .selectFrom('quota_assignments as a')
      .innerJoin('quotas as q', 'q.id', 'a.quota_id')
      .leftJoin('users as u', 'u.id', 'a.user_id')
      .leftJoin('groups as g', 'g.id', 'a.group_id')
      .select(['a.quota_id as quotaId', 'q.name as quota', 'a.user_id as userId', 'u.username as user', 'a.group_id as groupId', 'g.path as group']);
    if (quotaId !== undefined) query = query.where('a.quota_id', '=', quotaId);
    // Nulls first, spelled out: SQLite's default, not PostgreSQL's (group assignments, with no user, come first on both).
    return query
      .orderBy('q.name')
      .orderBy('u.username', (ob) => ob.asc().nullsFirst())
      .orderBy('g.path', (ob) => ob.asc().nullsFirst())
      .execute();
  },

  /** False when the quota was assigned there already (the unique index decides, also between two masters). */
  async assign(db: Executor, quotaId: number, principal: { userId: number } | { groupId: number }, now: number): Promise<boolean> {
    const result = await db
      .insertInto('quota_assignments')
      .values({
        quota_id: quotaId,
        user_id: 'userId' in principal ? principal.userId : null,
        group_id: 'groupId' in principal ? principal.groupId : null,
        created_at: now,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  },

  async unassign(db: Executor, quotaId: number, principal: { userId: number } | { groupId: number }): Promise<boolean> {
    const result = await db
      .deleteFrom('quota_assignments')
      .where('quota_id', '=', quotaId)
      .where('userId' in principal ? 'user_id' : 'group_id', '=', 'userId' in principal ? principal.userId : principal.groupId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  },

  /** What every task holding a slot on an agent (assigned, pulling, running) asks for: few rows, bounded by the cluster. */
  async activeLoads(db: Executor): Promise<ActiveLoad[]> {
    const rows = await db
      .selectFrom('tasks')
      .select([
        'id',
        'owner_id as ownerId',
        'group_id as groupId',
        'pool',
        'preemptible',
        'kill_requested_at',
        'preempt_requested_at',
        cpuOf(db).as('cpu'),
        memoryOf(db).as('memory'),
        gpusOf(db).as('gpus'),
        runStart.as('runStart'),
      ])
      .where('state', 'in', ACTIVE)
      .execute();
    return rows.map(({ preemptible, kill_requested_at, preempt_requested_at, ...row }) => ({
      ...row,
      preemptible: preemptible === 1,
      stopping: kill_requested_at !== null,
      preempting: preempt_requested_at !== null,
    }));
  },

  /** The unfinished (queued or active) tasks of one owner, or charged to a set of groups, with what they ask for. */
  async unfinishedLoads(db: Executor, principal: QuotaPrincipal): Promise<Array<TaskLoad & { state: string }>> {
    let query = db
      .selectFrom('tasks')
      .select(['state', 'owner_id as ownerId', 'group_id as groupId', 'pool', 'preemptible', cpuOf(db).as('cpu'), memoryOf(db).as('memory'), gpusOf(db).as('gpus')])
      .where('state', 'in', UNFINISHED);
    query = 'ownerId' in principal ? query.where('owner_id', '=', principal.ownerId) : query.where('group_id', 'in', principal.groupIds);
    if (principal.pool) query = query.where('pool', '=', principal.pool);
    return (await query.execute()).map(({ preemptible, ...row }) => ({ ...row, preemptible: preemptible === 1 }));
  },

  /**
   * How many unfinished (queued or active) tasks one owner has, or a set of groups (a group's
   * subtree), counting no further than `upTo`: an index-only count (`tasks_queued_heads`,
   * `tasks_unfinished_by_group`) of at most `upTo` entries, for max_submitted on every submission,
   * however long the queue. An owner's count of all pools is compiled once (the common case).
   */
  async unfinishedCount(db: Executor, principal: QuotaPrincipal, upTo: number): Promise<number> {
    if ('ownerId' in principal && !principal.pool) return Number((await unfinishedOfOwner(db, principal.ownerId, upTo))[0]!.n);
    let inner = db.selectFrom('tasks').select('id').where('state', 'in', UNFINISHED);
    inner = 'ownerId' in principal ? inner.where('owner_id', '=', principal.ownerId) : inner.where('group_id', 'in', principal.groupIds);
    if (principal.pool) inner = inner.where('pool', '=', principal.pool);
    const row = await db.selectFrom(inner.limit(upTo).as('capped')).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  },

  /**
   * Holds the submissions of one owner, or of one group (the group holding the quota: its whole
   * subtree), until the transaction ends: what max_submitted and deny_on_limit count cannot change
   * under the count (db/dialect.ts `holdLock`).
   */
  async lockSubmissions(trx: Executor, principal: { ownerId: number } | { groupId: number }): Promise<void> {
    if ('ownerId' in principal) await holdLock(trx, 'userSubmissions', principal.ownerId);
    else await holdLock(trx, 'groupSubmissions', principal.groupId);
  },

  /** Running tasks with when their current run began, for max_runtime. */
  running(db: Executor): Promise<Array<{ id: number; ownerId: number; groupId: number | null; pool: string; runStart: number; killRequested: boolean }>> {
    return db
      .selectFrom('tasks')
      .select([
        'id',
        'owner_id as ownerId',
        'group_id as groupId',
        'pool',
        runStart.as('runStart'),
        sql<boolean>`kill_requested_at is not null`.as('killRequested'),
      ])
      .where('state', '=', 'RUNNING')
      .execute();
  },

  async usage(db: Executor): Promise<Array<{ userId: number; cpuSeconds: number; gpuSeconds: number; updatedAt: number }>> {
    return db.selectFrom('user_usage').select(['user_id as userId', 'cpu_seconds as cpuSeconds', 'gpu_seconds as gpuSeconds', 'updated_at as updatedAt']).execute();
  },

  /** Decayed usage per user and group (`groupKey` 0: no group), for hierarchical fair share. */
  async groupUsage(db: Executor): Promise<Array<{ userId: number; groupKey: number; cpuSeconds: number; gpuSeconds: number; updatedAt: number }>> {
    return db
      .selectFrom('fair_share_usage')
      .select(['user_id as userId', 'group_key as groupKey', 'cpu_seconds as cpuSeconds', 'gpu_seconds as gpuSeconds', 'updated_at as updatedAt'])
      .execute();
  },

  async saveGroupUsage(db: Executor, userId: number, groupKey: number, cpuSeconds: number, gpuSeconds: number, at: number): Promise<void> {
    await db
      .insertInto('fair_share_usage')
      .values({ user_id: userId, group_key: groupKey, cpu_seconds: cpuSeconds, gpu_seconds: gpuSeconds, updated_at: at })
      .onConflict((oc) => oc.columns(['user_id', 'group_key']).doUpdateSet({ cpu_seconds: cpuSeconds, gpu_seconds: gpuSeconds, updated_at: at }))
      .execute();
  },

  async saveUsage(db: Executor, userId: number, cpuSeconds: number, gpuSeconds: number, at: number): Promise<void> {
    await db
      .insertInto('user_usage')
      .values({ user_id: userId, cpu_seconds: cpuSeconds, gpu_seconds: gpuSeconds, updated_at: at })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ cpu_seconds: cpuSeconds, gpu_seconds: gpuSeconds, updated_at: at }))
      .execute();
  },
};
