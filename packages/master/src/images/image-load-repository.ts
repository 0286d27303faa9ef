import type { Executor } from '../db/database.js';

/** Who loaded an image name into a pool (`yard image load`). */
export interface ImageLoadRecord {
  reference: string;
  pool: string;
  ownerId: number;
  owner: string;
  imageId: string;
  loadedAt: number;
}

export const imageLoadRepository = {
  /** Loading a name again (whoever may) makes it theirs: one owner per name and pool. */
  async record(db: Executor, load: Omit<ImageLoadRecord, 'owner'>): Promise<void> {
    const changes = { owner_id: load.ownerId, image_id: load.imageId, loaded_at: load.loadedAt };
    await db
      .insertInto('image_loads')
      .values({ reference: load.reference, pool: load.pool, ...changes })
      .onConflict((oc) => oc.columns(['reference', 'pool']).doUpdateSet(changes))
      .execute();
  },

  /** Every load record, or those of one pool, with the owners' names. */
  async list(db: Executor, pool?: string): Promise<ImageLoadRecord[]> {
    let query = db
      .selectFrom('image_loads')
      .innerJoin('users', 'users.id', 'image_loads.owner_id')
      .select(['image_loads.reference', 'image_loads.pool', 'image_loads.owner_id', 'users.username', 'image_loads.image_id', 'image_loads.loaded_at']);
    if (pool !== undefined) query = query.where('image_loads.pool', '=', pool);
    const rows = await query.orderBy('image_loads.id').execute();
    return rows.map((r) => ({ reference: r.reference, pool: r.pool, ownerId: r.owner_id, owner: r.username, imageId: r.image_id, loadedAt: r.loaded_at }));
  },

  async find(db: Executor, reference: string, pool: string): Promise<ImageLoadRecord | undefined> {
    return (await this.list(db, pool)).find((r) => r.reference === reference);
  },

  remove(db: Executor, reference: string, pool: string): Promise<unknown> {
    return db.deleteFrom('image_loads').where('reference', '=', reference).where('pool', '=', pool).execute();
  },
};
