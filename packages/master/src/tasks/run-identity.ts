import type { UnixIdentity } from '@trainyard/shared';
import type { UserRecord } from '../users/user-repository.js';

/**
 * Who a task runs as, fixed when it is created: the owner's agent-user link, else the
 * master's security.default_task. Nothing in the task's own config takes part.
 */
export function resolveRunIdentity(owner: Pick<UserRecord, 'agentUser'>, defaultTask: UnixIdentity): UnixIdentity {
  return owner.agentUser ? { ...owner.agentUser } : { ...defaultTask };
}
