import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

/**
 * Images on the agents (issue 27): what each agent reports of its engine's images (`agents.
 * image_details`, JSON: id, tags, digests, size, created; null where it holds none or never said),
 * and who loaded which image name into which pool with `yard image load` (`image_loads`: a user may
 * remove what they loaded). Columns and a table of their own only, so that it lands in any order
 * with the other branches' migrations.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema.alterTable('agents').addColumn('image_details', 'text').execute();
  await db.schema
    .createTable('image_loads')
    .addColumn(...t.id('id'))
    // The normalised reference the tarball named (`user/alice/tool:1`).
    .addColumn('reference', 'text', (c) => c.notNull())
    .addColumn('pool', 'text', (c) => c.notNull())
    .addColumn('owner_id', t.int, (c) => c.notNull().references('users.id'))
    .addColumn('image_id', 'text', (c) => c.notNull())
    .addColumn('loaded_at', t.time, (c) => c.notNull())
    .execute();
  // One owner per name and pool: loading it again (by whoever may) makes it theirs.
  await db.schema.createIndex('image_loads_by_name').unique().on('image_loads').columns(['reference', 'pool']).execute();
}
