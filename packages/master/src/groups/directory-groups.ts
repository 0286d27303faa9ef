import type { Logger } from 'pino';
import type { SystemActor } from '../audit/audit-service.js';
import type { DirectoryGroupSync } from '../auth/directory-groups.js';
import { DomainError } from '../errors.js';
import type { GroupService } from './group-service.js';

/** Whom the audit log names for memberships the directory decided. */
const LDAP_SYNC: SystemActor = { system: 'ldap group sync' };

/**
 * `auth.ldap.groups.map` at each LDAP login: the person's memberships among the mapped Trainyard
 * groups become exactly those their directory groups give (joined when they are in the directory
 * group, left when they no longer are); groups the map does not name are the admins' to manage
 * and stay as they are. A mapped group that does not exist is skipped with a warning (an admin
 * creates it). A change the last-admin guard refuses leaves every membership as it was, and the
 * login goes on.
 */
export class DirectoryGroups implements DirectoryGroupSync {
  constructor(private readonly deps: { groups: GroupService; logger: Logger }) {}

  async sync(user: { id: number; username: string }, membership: { paths: string[]; managed: string[] }): Promise<void> {
    const { groups, logger } = this.deps;
    try {
      const { added, removed, missing } = await groups.setManagedMemberships(LDAP_SYNC, user, membership);
      if (added.length > 0 || removed.length > 0) logger.info({ username: user.username, added, removed }, 'directory groups applied');
      if (missing.length > 0) {
        logger.warn({ username: user.username, groups: missing }, 'auth.ldap.groups.map names groups that do not exist: create them');
      }
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'LAST_ADMIN') throw error;
      logger.warn({ username: user.username, reason: error.message }, 'directory groups not applied');
    }
  }
}
