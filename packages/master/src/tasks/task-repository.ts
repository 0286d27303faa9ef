import type { Kysely, Transaction } from 'kysely';
import { TERMINAL_STATES, type RunSpec, type TaskKind, type TaskState } from '@trainyard/shared';
import { globMatch } from '../db/glob.js';
import { rowLock } from '../db/dialect.js';
import type { Database, TaskLogRow, TasksTable, TaskRow, TaskTimelineRow, TaskTimelineTable } from '../db/schema.js';
import type { Insertable, Updateable } from 'kysely';

type Executor = Kysely<Database> | Transaction<Database>;
export const ACTIVE_STATES = ['ASSIGNED', 'PULLING', 'RUNNING'] as const;
export type TaskWithOwner = TaskRow & { owner: string };

export interface TaskListFilter {
  kind?: TaskKind;
  ownerId?: number;
  states?: TaskState[];
  /** Charged to exactly this group. */
  group?: string;
  /** Submitted to this pool. */
  pool?: string;
  /** Created in [createdSince, createdUntil). */
  createdSince?: number;
  createdUntil?: number;
  /** A glob over the name (`*`, `?`), case-insensitive. */
  name?: string;
  /** Keyset: only tasks with a smaller id (lists run newest first). */
  beforeId?: number;
  limit: number;
}

const withOwner = (db: Executor) =>
  db.selectFrom('tasks').innerJoin('users', 'users.id', 'tasks.owner_id').selectAll('tasks').select('users.username as owner');

export const taskRepository = {
  insert(db: Executor, row: Insertable<TasksTable>): Promise<TaskRow> {
    return db.insertInto('tasks').values(row).returningAll().executeTakeFirstOrThrow();
  },

  findById(db: Executor, id: number): Promise<TaskWithOwner | undefined> {
    return withOwner(db).where('tasks.id', '=', id).executeTakeFirst();
  },

  /** Newest first; each filter combination has its index (see migration 0002). */
  list(db: Executor, filter: TaskListFilter): Promise<TaskWithOwner[]> {
    let query = withOwner(db);
    if (filter.kind !== undefined) query = query.where('tasks.kind', '=', filter.kind);
    if (filter.ownerId !== undefined) query = query.where('tasks.owner_id', '=', filter.ownerId);
    if (filter.states !== undefined) query = query.where('tasks.state', 'in', filter.states);
    if (filter.group !== undefined) query = query.where('tasks.group_path', '=', filter.group);
    if (filter.pool !== undefined) query = query.where('tasks.pool', '=', filter.pool);
    if (filter.createdSince !== undefined) query = query.where('tasks.created_at', '>=', filter.createdSince);
    if (filter.createdUntil !== undefined) query = query.where('tasks.created_at', '<', filter.createdUntil);
    if (filter.name !== undefined) query = query.where(globMatch('tasks.name', filter.name));
    if (filter.beforeId !== undefined) query = query.where('tasks.id', '<', filter.beforeId);
    return query.orderBy('tasks.id', 'desc').limit(filter.limit).execute();
  },

  /**
   * Changes a task only if it is still in the state (and, when given, under the lease) it was
   * read in: two writers racing cannot both win.
   */
  async update(db: Executor, id: number, from: { state: TaskState; leaseId?: string | null }, changes: Updateable<TasksTable>): Promise<boolean> {
    let query = db.updateTable('tasks').set(changes).where('id', '=', id).where('state', '=', from.state);
    if (from.leaseId !== undefined) query = from.leaseId === null ? query.where('lease_id', 'is', null) : query.where('lease_id', '=', from.leaseId);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /**
   * Marks a kill asked of a task still in `state` that no kill was asked of yet (or, `preempting`,
   * that is being preempted: the kill takes the preemption over); false when it moved on or one was.
   */
  async requestKill(db: Executor, id: number, state: TaskState, changes: Updateable<TasksTable>, options: { preempting: boolean }): Promise<boolean> {
    let query = db.updateTable('tasks').set(changes).where('id', '=', id).where('state', '=', state);
    query = options.preempting ? query.where('preempt_requested_at', 'is not', null) : query.where('kill_requested_at', 'is', null);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /** Deletes a task (its logs cascade) if it has ended; false if it has not. */
  async deleteEnded(db: Executor, id: number): Promise<boolean> {
    const result = await db.deleteFrom('tasks').where('id', '=', id).where('state', 'in', TERMINAL_STATES).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  },

  /** Tasks an agent holds: assigned (acknowledged or not), pulling or running. */
  activeOnAgent(db: Executor, agentId: string): Promise<TaskRow[]> {
    return db
      .selectFrom('tasks')
      .selectAll()
      .where('agent_id', '=', agentId)
      .where('state', 'in', ACTIVE_STATES)
      .orderBy('id')
      .execute();
  },

  /** The tasks a pool holds (assigned, pulling or running), oldest first: what its manager reconciles with its engine. */
  activeInPool(db: Executor, pool: string): Promise<TaskRow[]> {
    return db.selectFrom('tasks').selectAll().where('state', 'in', ACTIVE_STATES).where('pool', '=', pool).orderBy('id').execute();
  },

  /** The pool and state of each of these tasks (those that exist). */
  async poolsOf(db: Executor, ids: readonly number[]): Promise<Map<number, { pool: string; state: TaskState }>> {
    if (ids.length === 0) return new Map();
    const rows = await db.selectFrom('tasks').select(['id', 'pool', 'state']).where('id', 'in', [...ids]).execute();
    return new Map(rows.map((r) => [r.id, { pool: r.pool, state: r.state as TaskState }]));
  },

  /** Every task holding a slot (assigned, pulling, running), anywhere. */
  active(db: Executor): Promise<TaskRow[]> {
    return db.selectFrom('tasks').selectAll().where('state', 'in', ACTIVE_STATES).orderBy('id').execute();
  },

  /** Running tasks of these kinds (for idle shutdown): id and when the run started. */
  runningOfKinds(db: Executor, kinds: readonly TaskKind[]): Promise<Array<{ id: number; started_at: number | null }>> {
    return db.selectFrom('tasks').select(['id', 'started_at']).where('state', '=', 'RUNNING').where('kind', 'in', kinds).execute();
  },

  /** Unfinished tasks (queued or placed) with their pool and run spec: which images they use (`yard image rm`). */
  unfinished(db: Executor): Promise<Array<Pick<TaskRow, 'id' | 'pool' | 'run_spec'>>> {
    return db.selectFrom('tasks').select(['id', 'pool', 'run_spec']).where('state', 'in', ['QUEUED', ...ACTIVE_STATES]).orderBy('id').execute();
  },

  /** Ids of the tasks every agent holds, in one query (for `yard agent list`). */
  async activeByAgent(db: Executor): Promise<Map<string, number[]>> {
    const rows = await db
      .selectFrom('tasks')
      .select(['id', 'agent_id'])
      .where('state', 'in', ACTIVE_STATES)
      .where('agent_id', 'is not', null)
      .orderBy('id')
      .execute();
    const byAgent = new Map<string, number[]>();
    for (const row of rows) byAgent.set(row.agent_id!, [...(byAgent.get(row.agent_id!) ?? []), row.id]);
    return byAgent;
  },

  /** The head of a pool's queue, first come first served. */
  queued(db: Executor, pool: string, limit: number): Promise<TaskRow[]> {
    return db.selectFrom('tasks').selectAll().where('state', '=', 'QUEUED').where('pool', '=', pool).orderBy('id').limit(limit).execute();
  },

  /**
   * The oldest queued tasks of each owner in each group (at most `perHead` of each), oldest first:
   * so that one owner's long queue, or one group's, held back by a quota, never hides the rest. A
   * queue shorter than `limit` is read whole, in id order; a longer one with a window over the index
   * `tasks_queued_heads` (state, owner, group, id), which needs no sort.
   */
  async queuedHeads(db: Executor, pool: string | undefined, perHead: number, limit: number): Promise<TaskRow[]> {
    let queued = db.selectFrom('tasks').selectAll().where('state', '=', 'QUEUED');
    if (pool !== undefined) queued = queued.where('pool', '=', pool);
    const all = await queued.orderBy('id').limit(limit).execute();
    if (all.length < limit) return all;
    let inQueue = db
      .selectFrom('tasks')
      .selectAll('tasks')
      .select((eb) => eb.fn.agg<number>('row_number').over((ob) => ob.partitionBy(['owner_id', 'group_id']).orderBy('id')).as('rank_in_head'))
      .where('state', '=', 'QUEUED');
    if (pool !== undefined) inQueue = inQueue.where('pool', '=', pool);
    const ranked = inQueue.as('q');
    return db.selectFrom(ranked).selectAll('q').where('q.rank_in_head', '<=', perHead).orderBy('q.id').limit(limit).execute() as Promise<TaskRow[]>;
  },

  async notePlacement(db: Executor, id: number, leaseId: string, states: readonly TaskState[], changes: Updateable<TasksTable>): Promise<boolean> {
    const result = await db.updateTable('tasks').set(changes).where('id', '=', id).where('lease_id', '=', leaseId).where('state', 'in', states).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  async markPoolsGone(db: Executor, pools: string[]): Promise<number> {
    const result = await db.updateTable('tasks').set({ pending_reason: 'POOL_GONE' }).where('state', '=', 'QUEUED').where('pool', 'not in', pools).executeTakeFirst();
    return Number(result.numUpdatedRows);
  },

  /** Every queued task, oldest first. */
  allQueued(db: Executor): Promise<TaskRow[]> {
    return db.selectFrom('tasks').selectAll().where('state', '=', 'QUEUED').orderBy('id').execute();
  },

  /** Sets the reason of those of `ids` still queued whose reason differs; their ids. */
  async setPendingReasonOf(db: Executor, ids: number[], reason: string | null): Promise<number[]> {
    if (ids.length === 0) return [];
    let query = db.updateTable('tasks').set({ pending_reason: reason }).where('id', 'in', ids).where('state', '=', 'QUEUED');
    query = reason === null ? query.where('pending_reason', 'is not', null) : query.where((eb) => eb.or([eb('pending_reason', 'is', null), eb('pending_reason', '!=', reason)]));
    const rows = await query.returning('id').execute();
    return rows.map((r) => r.id);
  },

  async addTimelines(db: Executor, entries: Array<Insertable<TaskTimelineTable>>): Promise<void> {
    if (entries.length > 0) await db.insertInto('task_timeline').values(entries).execute();
  },

  /** True when the task was still queued (and so its reason changed). */
  async setPendingReason(db: Executor, id: number, reason: string | null): Promise<boolean> {
    const result = await db.updateTable('tasks').set({ pending_reason: reason }).where('id', '=', id).where('state', '=', 'QUEUED').executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /** Assignments in `pool` never acknowledged since before `before`. */
  unacknowledgedSince(db: Executor, pool: string, before: number): Promise<TaskRow[]> {
    return db
      .selectFrom('tasks')
      .selectAll()
      .where('state', '=', 'ASSIGNED')
      .where('lease_acked_at', 'is', null)
      .where('assigned_at', '<', before)
      .where('pool', '=', pool)
      .execute();
  },

  /**
   * Holds the task's row until the transaction ends: log lines are numbered from the last one
   * stored, so two appends to one task (an agent's batch, a system line) take turns. Returns the
   * lines received of the current run and its lease, or undefined when there is no such task.
   */
  lockForLogs(db: Executor, taskId: number): Promise<{ log_offset: number; lease_id: string | null } | undefined> {
    return rowLock(db, db.selectFrom('tasks').select(['log_offset', 'lease_id']).where('id', '=', taskId)).executeTakeFirst();
  },

  async setLogOffset(db: Executor, taskId: number, offset: number): Promise<void> {
    await db.updateTable('tasks').set({ log_offset: offset }).where('id', '=', taskId).execute();
  },

  /** Per pool, the run specs' resources of the tasks holding a slot, and the queue's length and oldest task (`yard pool list`). */
  async poolUse(db: Executor): Promise<{ active: Array<{ pool: string; resources: RunSpec['resources'] }>; queues: Array<{ pool: string; length: number; oldest: number }> }> {
    const active = await db.selectFrom('tasks').select(['pool', 'run_spec']).where('state', 'in', ACTIVE_STATES).execute();
    const queues = await db
      .selectFrom('tasks')
      .select((eb) => ['pool', eb.fn.countAll<number>().as('length'), eb.fn.min<number>('created_at').as('oldest')])
      .where('state', '=', 'QUEUED')
      .groupBy('pool')
      .execute();
    return {
      active: active.map((row) => ({ pool: row.pool, resources: (JSON.parse(row.run_spec) as RunSpec).resources })),
      queues: queues.map((q) => ({ pool: q.pool, length: Number(q.length), oldest: Number(q.oldest) })),
    };
  },

  /** Appends lines after the last one stored; call inside a transaction after `lockForLogs`. */
  async appendLogs(db: Executor, taskId: number, lines: Array<Pick<TaskLogRow, 'stream' | 'line' | 'created_at'>>): Promise<number> {
    const last = await db
      .selectFrom('task_logs')
      .select((eb) => eb.fn.max<number | null>('seq').as('seq'))
      .where('task_id', '=', taskId)
      .executeTakeFirst();
    let seq = last?.seq ?? 0;
    if (lines.length === 0) return seq;
    await db
      .insertInto('task_logs')
      .values(lines.map((l) => ({ task_id: taskId, seq: ++seq, stream: l.stream, line: l.line, created_at: l.created_at })))
      .execute();
    return seq;
  },

  /** The seq of a task's last line; 0 when it has none. */
  async lastLogSeq(db: Executor, taskId: number): Promise<number> {
    const last = await db
      .selectFrom('task_logs')
      .select((eb) => eb.fn.max<number | null>('seq').as('seq'))
      .where('task_id', '=', taskId)
      .executeTakeFirst();
    return last?.seq ?? 0;
  },

  /**
   * The seq of a task's first line written at or after `at` (ms since the epoch); `lastSeq + 1` when
   * none is. Lines are stored in the order they came, numbered 1, 2, 3... with the master's clock:
   * a binary search by primary key, some twenty lookups for a million lines, never a scan.
   */
  async firstLogSeqAtOrAfter(db: Executor, taskId: number, at: number, lastSeq: number): Promise<number> {
    let low = 1;
    let high = lastSeq + 1;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const row = await db.selectFrom('task_logs').select('created_at').where('task_id', '=', taskId).where('seq', '=', middle).executeTakeFirst();
      if (!row || row.created_at >= at) high = middle;
      else low = middle + 1;
    }
    return low;
  },

  async addTimeline(db: Executor, entry: Insertable<TaskTimelineTable>): Promise<void> {
    await db.insertInto('task_timeline').values(entry).execute();
  },

  timeline(db: Executor, taskId: number): Promise<TaskTimelineRow[]> {
    return db.selectFrom('task_timeline').selectAll().where('task_id', '=', taskId).orderBy('id').limit(10_000).execute();
  },

  /** Tasks holding room on an agent, with their owner's name and run spec (the overview's allocations). */
  allocations(db: Executor): Promise<Array<Pick<TaskRow, 'id' | 'agent_id' | 'state' | 'run_spec' | 'pool'> & { owner: string }>> {
    return db
      .selectFrom('tasks')
      .innerJoin('users', 'users.id', 'tasks.owner_id')
      .select(['tasks.id', 'tasks.agent_id', 'tasks.state', 'tasks.run_spec', 'tasks.pool', 'users.username as owner'])
      .where('tasks.state', 'in', ACTIVE_STATES)
      .execute();
  },

  /** How long the queue is, and since when its oldest task has waited (it last entered the queue then). */
  async queueFacts(db: Executor): Promise<{ length: number; oldestQueuedAt: number | null }> {
    const row = await db
      .selectFrom('tasks')
      .select((eb) => [eb.fn.countAll<number>().as('length'), eb.fn.min<number | null>(eb.fn.coalesce('queued_at', 'created_at')).as('oldest')])
      .where('state', '=', 'QUEUED')
      .executeTakeFirstOrThrow();
    return { length: Number(row.length), oldestQueuedAt: row.oldest === null ? null : Number(row.oldest) };
  },

  async stateCounts(db: Executor): Promise<Array<{ state: TaskState; count: number }>> {
    const rows = await db.selectFrom('tasks').select((eb) => ['state', eb.fn.countAll<number>().as('count')]).groupBy('state').execute();
    return rows.map((r) => ({ state: r.state, count: Number(r.count) }));
  },

  /** How many tasks the store holds in each state and kind (metrics; one aggregate query). */
  countByStateAndKind(db: Executor): Promise<Array<{ state: TaskState; kind: TaskKind; count: number }>> {
    return db
      .selectFrom('tasks')
      .select(['state', 'kind', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy(['state', 'kind'])
      .execute();
  },

  /** When the longest-waiting queued task entered the queue (`queued_at`: created, or back after a run), or null. */
  async oldestQueuedAt(db: Executor): Promise<number | null> {
    const row = await db
      .selectFrom('tasks')
      .select((eb) => eb.fn.min<number | null>(eb.fn.coalesce('queued_at', 'created_at')).as('at'))
      .where('state', '=', 'QUEUED')
      .executeTakeFirst();
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  },

  readLogs(db: Executor, taskId: number, afterSeq: number, limit: number): Promise<TaskLogRow[]> {
    return db
      .selectFrom('task_logs')
      .selectAll()
      .where('task_id', '=', taskId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
  },
};
