import type { User } from '@trainyard/shared';
import { toIso } from '../clock.js';
import type { UserRow } from '../db/schema.js';

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    admin: row.admin === 1,
    active: row.active === 1,
    auth: row.auth,
    agentUser:
      row.agent_uid === null || row.agent_user === null || row.agent_gid === null || row.agent_group === null
        ? null
        : { uid: row.agent_uid, user: row.agent_user, gid: row.agent_gid, group: row.agent_group },
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}
