import type { Kysely, Transaction, Updateable } from 'kysely';
import type { AgentRow, AgentsTable, AgentTokenRow, Database } from '../db/schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

export const agentRepository = {
  find(db: Executor, id: string): Promise<AgentRow | undefined> {
    return db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
  },

  list(db: Executor): Promise<AgentRow[]> {
    return db.selectFrom('agents').selectAll().orderBy('id').execute();
  },

  upsert(db: Executor, row: AgentRow): Promise<unknown> {
    const { id, registered_at: _registered, enabled: _enabled, ...changes } = row;
    return db
      .insertInto('agents')
      .values(row)
      // Re-registering keeps the admin's enabled/disabled choice.
      .onConflict((oc) => oc.column('id').doUpdateSet(changes))
      .execute();
  },

  update(db: Executor, id: string, changes: Updateable<AgentsTable>): Promise<unknown> {
    return db.updateTable('agents').set(changes).where('id', '=', id).execute();
  },

  /** Alive agents whose last heartbeat is older than `before`. */
  silentSince(db: Executor, before: number): Promise<AgentRow[]> {
    return db.selectFrom('agents').selectAll().where('state', '=', 'alive').where('last_heartbeat_at', '<', before).execute();
  },
};

export const agentTokenRepository = {
  insert(db: Executor, row: Omit<AgentTokenRow, 'id'>): Promise<AgentTokenRow> {
    return db.insertInto('agent_tokens').values(row).returningAll().executeTakeFirstOrThrow();
  },

  findByHash(db: Executor, hash: string): Promise<AgentTokenRow | undefined> {
    return db.selectFrom('agent_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  },

  findByName(db: Executor, name: string): Promise<AgentTokenRow | undefined> {
    return db.selectFrom('agent_tokens').selectAll().where('name', '=', name).executeTakeFirst();
  },

  /** Every token with its creator's name, or just the one with `id`. */
  list(db: Executor, id?: number): Promise<Array<AgentTokenRow & { creator: string | null }>> {
    let query = db
      .selectFrom('agent_tokens')
      .leftJoin('users', 'users.id', 'agent_tokens.created_by')
      .selectAll('agent_tokens')
      .select('users.username as creator');
    if (id !== undefined) query = query.where('agent_tokens.id', '=', id);
    return query.orderBy('agent_tokens.id').execute();
  },

  update(db: Executor, id: number, changes: Partial<Pick<AgentTokenRow, 'revoked_at' | 'last_used_at' | 'token_hash'>>): Promise<unknown> {
    return db.updateTable('agent_tokens').set(changes).where('id', '=', id).execute();
  },
};
