import type { User } from '@trainyard/shared';
import type { Session } from './session.js';

/** activate/deactivate: one PATCH, two commands. */
export function setActive(session: Session, name: string, active: boolean): Promise<User> {
  return session.call('users.update', { params: { username: name }, body: { active } });
}
