import { sharedDirContainerPath, UNIX_NAME_PATTERN, type RunIdentity, type RunSharedDir, type UnixIdentity } from '@trainyard/shared';
import { policyDenied } from '../errors.js';
import type { GroupIdentity } from '../groups/group-unix-service.js';
import type { IdentityStep } from './identity.js';

/** What admission needs of the groups domain's Unix identities. */
export interface GroupUnixDirectory {
  /** The Unix identity of each of these groups (the owner's direct groups). */
  identities(groupIds: number[]): Promise<GroupIdentity[]>;
  /** The owner's uid in a ranged group: given on first use, the same ever after. */
  uidFor(group: GroupIdentity, userId: number): Promise<number>;
}

export interface GroupIdentityOwner {
  id: number;
  username: string;
  agentUser: UnixIdentity | null;
}

/** The first step of the identity chain, and the shared directories the owner's groups give. */
export interface GroupContribution {
  step: IdentityStep<unknown>;
  sharedDirs: RunSharedDir[];
}

/**
 * What the owner's groups give a task (their direct groups: membership is what counts, as for
 * roles). Every group with a gid adds it, named, to the supplementary groups; every one with its
 * shared directory on adds that directory. The task's own group, when it has a uid range, also
 * decides the uid: a linked owner's uid must lie in the range (else 403 POLICY_DENIED, rule
 * `group.uid_range`), an unlinked owner runs as their own uid from the range, named by their
 * Trainyard name, with the group's gid as primary group.
 */
export async function groupContribution(
  directory: GroupUnixDirectory,
  owner: GroupIdentityOwner,
  memberOf: number[],
  taskGroupId: number | null,
): Promise<GroupContribution> {
  const groups = await directory.identities(memberOf);
  const withGid = groups.filter((g): g is GroupIdentity & { gid: number; unixGroup: string } => g.gid !== null && g.unixGroup !== null);
  const supplementary = withGid.map((g) => ({ gid: g.gid, name: g.unixGroup }));
  const sharedDirs = withGid.filter((g) => g.sharedDir).map((g) => ({ group: g.path, gid: g.gid, containerPath: sharedDirContainerPath(g.path) }));
  const taskGroup = withGid.find((g) => g.id === taskGroupId);

  let given: Partial<RunIdentity> | undefined = supplementary.length > 0 ? { supplementaryGroups: supplementary } : undefined;
  const range = taskGroup?.uidRange;
  if (taskGroup && range) {
    const last = range.start + range.size - 1;
    if (owner.agentUser) {
      const { uid } = owner.agentUser;
      if (uid < range.start || uid > last) {
        throw policyDenied(
          `uid ${uid} of ${owner.username} is outside the uid range of group ${taskGroup.path}: required min ${range.start} max ${last} ` +
            `(link ${owner.username} to a uid in the range, or run outside the group)`,
          'group.uid_range',
          'group',
        );
      }
    } else {
      const uid = await directory.uidFor(taskGroup, owner.id);
      given = {
        uid,
        user: UNIX_NAME_PATTERN.test(owner.username) ? owner.username : `yard-${uid}`,
        gid: taskGroup.gid,
        group: taskGroup.unixGroup,
        supplementaryGroups: supplementary.filter((g) => g.gid !== taskGroup.gid),
      };
    }
  }
  return { step: { source: 'group', provide: () => given }, sharedDirs };
}
