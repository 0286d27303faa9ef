import type { UnixIdentity } from '@trainyard/shared';
import type { UserRow } from '../db/schema.js';

/**
 * Who a task runs as, fixed when it is created: the owner's agent-user link, else the
 * master's security.default_task. Nothing in the task's own config takes part.
 */
export function resolveRunIdentity(owner: UserRow, defaultTask: UnixIdentity): UnixIdentity {
  if (owner.agent_uid !== null && owner.agent_user !== null && owner.agent_gid !== null && owner.agent_group !== null) {
    return { uid: owner.agent_uid, user: owner.agent_user, gid: owner.agent_gid, group: owner.agent_group };
  }
  return { ...defaultTask };
}
