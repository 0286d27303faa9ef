import { normalizeImage, type AgentImage, type AgentImageList, type AgentImages, type AgentResources, type AgentState, type ExecutorName } from '@trainyard/shared';
import type { Insertable } from 'kysely';
import type { Executor } from '../db/database.js';
import type { AgentRow, AgentTokenRow, AgentTokensTable } from '../db/schema.js';

/** An agent as the rest of the master sees one: parsed resources and labels, a boolean, never 0/1 or JSON text. */
export interface AgentRecord {
  id: string;
  /** The agent token it registered with; null for agents registered before 0.2. */
  tokenId: number | null;
  executor: ExecutorName;
  resources: AgentResources;
  labels: Record<string, string>;
  version: string;
  enabled: boolean;
  state: AgentState;
  registeredAt: number;
  lastHeartbeatAt: number;
  /** The image references it has, normalised; null: it runs any (the process executor), or never said. */
  images: string[] | null;
  /** The pool it serves (`yard-agent --pool`). */
  pool: string;
  /** Its images with their details (`yard image list`); null: none to speak of (the process executor), or never said. */
  imageDetails: AgentImage[] | null;
}

export const agentRepository = {
  async find(db: Executor, id: string): Promise<AgentRecord | undefined> {
    const row = await db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  },

  /** When each of these agents was last heard from (those registered). */
  async heardAt(db: Executor, ids: readonly string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const rows = await db.selectFrom('agents').select(['id', 'last_heartbeat_at']).where('id', 'in', [...ids]).execute();
    return new Map(rows.map((r) => [r.id, Number(r.last_heartbeat_at)]));
  },

  async list(db: Executor): Promise<AgentRecord[]> {
    const rows = await db.selectFrom('agents').selectAll().orderBy('id').execute();
    return rows.map(toRecord);
  },

  /**
   * A registration: a new agent is enabled; re-registering keeps the admin's enabled/disabled choice.
   * An id already bound to another token that is not revoked is left alone (false): one statement,
   * so that two tokens registering one new id at once cannot both take it.
   */
  async upsert(db: Executor, agent: Omit<AgentRecord, 'enabled' | 'imageDetails'> & { imageDetails?: AgentImageList | undefined }): Promise<boolean> {
    const changes = {
      token_id: agent.tokenId,
      executor: agent.executor,
      resources: JSON.stringify(agent.resources),
      labels: JSON.stringify(agent.labels),
      version: agent.version,
      state: agent.state,
      last_heartbeat_at: agent.lastHeartbeatAt,
      images: agent.images === null ? null : JSON.stringify(agent.images),
      pool: agent.pool,
      ...(agent.imageDetails === undefined ? {} : { image_details: agent.imageDetails === null ? null : JSON.stringify(agent.imageDetails) }),
    };
    const result = await db
      .insertInto('agents')
      .values({ id: agent.id, ...changes, enabled: 1, registered_at: agent.registeredAt })
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet(changes)
          .where((eb) =>
            eb.or([
              eb('agents.token_id', 'is', null),
              ...(agent.tokenId === null ? [] : [eb('agents.token_id', '=', agent.tokenId)]),
              eb.exists(
                eb.selectFrom('agent_tokens').select('agent_tokens.id').whereRef('agent_tokens.id', '=', 'agents.token_id').where('agent_tokens.revoked_at', 'is not', null),
              ),
            ]),
          ),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  },

  update(
    db: Executor,
    id: string,
    changes: { enabled?: boolean; state?: AgentState; lastHeartbeatAt?: number; images?: AgentImages; imageDetails?: AgentImageList },
  ): Promise<unknown> {
    return db
      .updateTable('agents')
      .set({
        ...(changes.enabled === undefined ? {} : { enabled: changes.enabled ? 1 : 0 }),
        ...(changes.state === undefined ? {} : { state: changes.state }),
        ...(changes.lastHeartbeatAt === undefined ? {} : { last_heartbeat_at: changes.lastHeartbeatAt }),
        ...(changes.images === undefined ? {} : { images: changes.images === null ? null : JSON.stringify(changes.images) }),
        ...(changes.imageDetails === undefined ? {} : { image_details: changes.imageDetails === null ? null : JSON.stringify(changes.imageDetails) }),
      })
      .where('id', '=', id)
      .execute();
  },

  /** A one-shot agent whose task is over (see AgentService.markLost). */
  remove(db: Executor, id: string): Promise<unknown> {
    return db.deleteFrom('agents').where('id', '=', id).execute();
  },

  /** Alive agents whose last heartbeat is older than `before`. */
  async silentSince(db: Executor, before: number): Promise<AgentRecord[]> {
    const rows = await db.selectFrom('agents').selectAll().where('state', '=', 'alive').where('last_heartbeat_at', '<', before).execute();
    return rows.map(toRecord);
  },
};

function toRecord(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    tokenId: row.token_id,
    executor: row.executor,
    resources: JSON.parse(row.resources) as AgentResources,
    labels: JSON.parse(row.labels) as Record<string, string>,
    version: row.version,
    enabled: row.enabled === 1,
    state: row.state,
    registeredAt: row.registered_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    images: row.images === null ? null : (JSON.parse(row.images) as string[]).map(normalizeImage),
    pool: row.pool,
    imageDetails: row.image_details === null ? null : (JSON.parse(row.image_details) as AgentImage[]),
  };
}

export const agentTokenRepository = {
  insert(db: Executor, row: Insertable<AgentTokensTable>): Promise<AgentTokenRow> {
    return db.insertInto('agent_tokens').values(row).returningAll().executeTakeFirstOrThrow();
  },

  findByHash(db: Executor, hash: string): Promise<AgentTokenRow | undefined> {
    return db.selectFrom('agent_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  },

  findByName(db: Executor, name: string): Promise<AgentTokenRow | undefined> {
    return db.selectFrom('agent_tokens').selectAll().where('name', '=', name).executeTakeFirst();
  },

  /** Every token an admin made with its creator's name (one-shot agents' tokens are not listed), or just the one with `id`. */
  list(db: Executor, id?: number): Promise<Array<AgentTokenRow & { creator: string | null }>> {
    let query = db
      .selectFrom('agent_tokens')
      .leftJoin('users', 'users.id', 'agent_tokens.created_by')
      .selectAll('agent_tokens')
      .select('users.username as creator');
    if (id !== undefined) query = query.where('agent_tokens.id', '=', id);
    else query = query.where('agent_tokens.task_id', 'is', null);
    return query.orderBy('agent_tokens.id').execute();
  },

  update(db: Executor, id: number, changes: Partial<Pick<AgentTokenRow, 'revoked_at' | 'last_used_at' | 'token_hash'>>): Promise<unknown> {
    return db.updateTable('agent_tokens').set(changes).where('id', '=', id).execute();
  },

  /** Revokes the task's one-shot tokens that are still valid. */
  revokeForTask(db: Executor, taskId: number, at: number): Promise<unknown> {
    return db.updateTable('agent_tokens').set({ revoked_at: at }).where('task_id', '=', taskId).where('revoked_at', 'is', null).execute();
  },

  /** Deletes the task's one-shot tokens that no agent record still names (agents.token_id refers to them). */
  deleteForTask(db: Executor, taskId: number): Promise<unknown> {
    return db
      .deleteFrom('agent_tokens')
      .where('task_id', '=', taskId)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('agents').select('agents.id').whereRef('agents.token_id', '=', 'agent_tokens.id'))))
      .execute();
  },
};
