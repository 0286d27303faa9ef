import type { User } from '@trainyard/shared';
import { userPath } from './format.js';
import type { Session } from './session.js';

/** activate/deactivate: one PATCH, two commands. */
export function setActive(session: Session, name: string, active: boolean): Promise<User> {
  return session.request<User>('PATCH', userPath(name), { active });
}
