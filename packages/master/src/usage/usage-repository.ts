import type { Insertable } from 'kysely';
import type { RunOutcome, TaskKind } from '@trainyard/shared';
import type { Executor } from '../db/database.js';
import type { ClusterSampleRow, ClusterSamplesTable, UsageRunRow, UsageRunsTable } from '../db/schema.js';

/** Which runs a report reads, beyond the period. */
export interface RunFilter {
  /** Only runs that overlap [since, until). */
  since: number;
  until: number;
  ownerId?: number;
  group?: string;
  pool?: string;
  kind?: TaskKind;
  /** What the caller may see: their own runs, plus those charged to these groups; undefined: everything. */
  visible?: { ownerId: number; groups: string[] };
}

/** The usage ledger's tables: `usage_runs` and `cluster_samples`. */
export const usageRepository = {
  async openRun(db: Executor, row: Insertable<UsageRunsTable>): Promise<void> {
    await db.insertInto('usage_runs').values(row).execute();
  },

  /** Closes the open run of a task; the closed row, or undefined when it had none open. */
  async closeRun(db: Executor, taskId: number, end: { endedAt: number; outcome: RunOutcome; exitCode: number | null }): Promise<UsageRunRow | undefined> {
    const open = await db.selectFrom('usage_runs').selectAll().where('task_id', '=', taskId).where('ended_at', 'is', null).orderBy('id', 'desc').executeTakeFirst();
    if (!open) return undefined;
    // A run never ends before it began (a clock set back meanwhile): it then held nothing.
    const endedAt = Math.max(end.endedAt, open.started_at);
    await db.updateTable('usage_runs').set({ ended_at: endedAt, outcome: end.outcome, exit_code: end.exitCode }).where('id', '=', open.id).execute();
    return { ...open, ended_at: endedAt, outcome: end.outcome, exit_code: end.exitCode };
  },

  /** The owner's name now, written into the run as it was when the run began. */
  async ownerName(db: Executor, ownerId: number): Promise<string> {
    const row = await db.selectFrom('users').select('username').where('id', '=', ownerId).executeTakeFirst();
    return row?.username ?? `#${ownerId}`;
  },

  /** Runs overlapping the period (ended after its start, or still going, and started before its end). */
  runs(db: Executor, filter: RunFilter): Promise<UsageRunRow[]> {
    let query = db
      .selectFrom('usage_runs')
      .selectAll()
      .where('started_at', '<', filter.until)
      .where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', filter.since)]));
    if (filter.ownerId !== undefined) query = query.where('owner_id', '=', filter.ownerId);
    if (filter.group !== undefined) query = query.where('group_path', '=', filter.group);
    if (filter.pool !== undefined) query = query.where('pool', '=', filter.pool);
    if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
    const visible = filter.visible;
    if (visible) {
      query = query.where((eb) =>
        eb.or([eb('owner_id', '=', visible.ownerId), ...(visible.groups.length > 0 ? [eb('group_path', 'in', visible.groups)] : [])]),
      );
    }
    return query.orderBy('id').execute();
  },

  /** What budgets count: the runs that ended after `since` (`closed`), or those still going (`open`), with owner, group and what they held. */
  windowRuns(db: Executor, since: number, which: 'closed' | 'open'): Promise<Array<Pick<UsageRunRow, 'owner_id' | 'group_path' | 'pool' | 'cpu' | 'gpus' | 'started_at' | 'ended_at'>>> {
    const query = db.selectFrom('usage_runs').select(['owner_id', 'group_path', 'pool', 'cpu', 'gpus', 'started_at', 'ended_at']);
    return (which === 'open' ? query.where('ended_at', 'is', null) : query.where('ended_at', '>', since)).execute();
  },

  /** The newest runs that ended in a pool since `since` (run lengths for start estimates), newest first. */
  recentRuns(db: Executor, pool: string, since: number, limit: number): Promise<Array<Pick<UsageRunRow, 'owner_id' | 'task_name' | 'kind' | 'started_at' | 'ended_at' | 'wait_ms' | 'outcome'>>> {
    return db
      .selectFrom('usage_runs')
      .select(['owner_id', 'task_name', 'kind', 'started_at', 'ended_at', 'wait_ms', 'outcome'])
      .where('ended_at', '>', since)
      .where('pool', '=', pool)
      .orderBy('ended_at', 'desc')
      .limit(limit)
      .execute();
  },

  async insertSamples(db: Executor, rows: Array<Insertable<ClusterSamplesTable>>): Promise<void> {
    if (rows.length > 0) await db.insertInto('cluster_samples').values(rows).execute();
  },

  samples(db: Executor, since: number, until: number): Promise<ClusterSampleRow[]> {
    return db.selectFrom('cluster_samples').selectAll().where('at', '>=', since).where('at', '<', until).orderBy('at').orderBy('pool').execute();
  },

  async lastSampleAt(db: Executor): Promise<number | undefined> {
    const row = await db.selectFrom('cluster_samples').select((eb) => eb.fn.max<number | null>('at').as('at')).executeTakeFirst();
    return row?.at ?? undefined;
  },

  async pruneSamples(db: Executor, before: number): Promise<void> {
    await db.deleteFrom('cluster_samples').where('at', '<', before).execute();
  },
};
