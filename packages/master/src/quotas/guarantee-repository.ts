import type { GuaranteeAmounts } from '@trainyard/shared';
import type { Executor } from '../db/database.js';
import type { GuaranteeRow } from '../db/schema.js';

/** A group's guaranteed share of a pool (migration 0026), as the scheduler reads it. */
export interface GuaranteeRecord {
  id: number;
  groupId: number;
  /** The group's path now. */
  group: string;
  pool: string;
  guaranteed: GuaranteeAmounts;
  borrowingLimit: GuaranteeAmounts;
  lendingLimit: GuaranteeAmounts;
  createdAt: number;
  updatedAt: number;
}

export type GuaranteeColumns = Pick<GuaranteeRow, 'gpus' | 'cpu' | 'borrow_gpus' | 'borrow_cpu' | 'lend_gpus' | 'lend_cpu'>;

const toRecord = (row: GuaranteeRow & { path: string }): GuaranteeRecord => ({
  id: row.id,
  groupId: row.group_id,
  group: row.path,
  pool: row.pool,
  guaranteed: { gpus: row.gpus, cpu: row.cpu },
  borrowingLimit: { gpus: row.borrow_gpus, cpu: row.borrow_cpu },
  lendingLimit: { gpus: row.lend_gpus, cpu: row.lend_cpu },
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const guaranteeRepository = {
  async list(db: Executor): Promise<GuaranteeRecord[]> {
    const rows = await db.selectFrom('guarantees').innerJoin('groups', 'groups.id', 'guarantees.group_id').selectAll('guarantees').select('groups.path').orderBy('guarantees.pool').orderBy('groups.path').execute();
    return rows.map(toRecord);
  },

  async find(db: Executor, groupId: number, pool: string): Promise<GuaranteeRecord | undefined> {
    const row = await db
      .selectFrom('guarantees')
      .innerJoin('groups', 'groups.id', 'guarantees.group_id')
      .selectAll('guarantees')
      .select('groups.path')
      .where('guarantees.group_id', '=', groupId)
      .where('guarantees.pool', '=', pool)
      .executeTakeFirst();
    return row && toRecord(row);
  },

  /** Creates or changes the guarantee of a group in a pool (one per group and pool: the unique index decides). */
  async upsert(db: Executor, groupId: number, pool: string, columns: GuaranteeColumns, now: number): Promise<void> {
    await db
      .insertInto('guarantees')
      .values({ group_id: groupId, pool, ...columns, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['group_id', 'pool']).doUpdateSet({ ...columns, updated_at: now }))
      .execute();
  },

  async delete(db: Executor, groupId: number, pool: string): Promise<boolean> {
    const result = await db.deleteFrom('guarantees').where('group_id', '=', groupId).where('pool', '=', pool).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  },
};
