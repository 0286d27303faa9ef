import { UNIX_NAME_PATTERN, type GroupUnixRequest, type UidRange } from '@trainyard/shared';
import type { AuditActor, AuditService } from '../audit/audit-service.js';
import type { Clock } from '../clock.js';
import type { Db, Executor } from '../db/database.js';
import { DomainError } from '../errors.js';
import { groupRepository, type GroupRecord, type GroupUnix } from './group-repository.js';
import { groupNotFound } from './group-service.js';
import { uidRepository } from './uid-repository.js';

/** A group's Unix identity as admission uses it: the owner's groups, each with what it gives. */
export interface GroupIdentity extends GroupUnix {
  id: number;
  path: string;
}

/**
 * The Unix identity of groups: a gid and its name, a uid range (explicit or the next block of
 * security.uid_ranges) and the shared-directory switch, set by change_config holders; and the uid
 * each unlinked member gets from a ranged group, allocated on first use and kept for good.
 *
 * Ranges never overlap and are never reused: every range handed out is recorded in `uid_ranges`,
 * which outlives its group, and `auto` starts above the highest one. A range needs a gid (its
 * members' files need a group; `unix_group` defaults to the path with "/" as "-"), and once set it
 * never changes: files on shared disks carry its uids.
 */
export class GroupUnixService {
  constructor(private readonly deps: { db: Db; clock: Clock; audit: AuditService; uidRanges: { base: number; size: number }; defaultTaskUid: number }) {}

  async set(actor: AuditActor, path: string, request: GroupUnixRequest): Promise<void> {
    const { db, clock, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      // Gids and ranges are checked against every other group's and every range handed out: one
      // change at a time, on every connection of every master.
      await uidRepository.lockRanges(trx);
      const group = await groupRepository.findByPath(trx, path);
      if (!group) throw groupNotFound(path);
      const before = group.unix;
      const next: GroupUnix = { ...before };
      if (request.gid !== undefined) next.gid = request.gid;
      if (request.unixGroup !== undefined) next.unixGroup = request.unixGroup;
      if (request.gid === null) next.unixGroup = request.unixGroup ?? null;
      if (next.gid !== null && next.unixGroup === null) {
        next.unixGroup = defaultUnixGroup(path);
        if (!UNIX_NAME_PATTERN.test(next.unixGroup)) {
          throw new DomainError('INVALID_INPUT', `'${next.unixGroup}' (from the path) is not a Unix group name: name it with --unix-group`);
        }
      }
      if (next.gid === null && next.unixGroup !== null) {
        throw new DomainError('INVALID_INPUT', `group ${path} has no gid: give one with --gid before naming its Unix group`);
      }
      if (request.sharedDir !== undefined) next.sharedDir = request.sharedDir;
      if (request.uidRange !== undefined) next.uidRange = await this.range(trx, group, request.uidRange);
      if (next.gid === null && (next.uidRange !== null || next.sharedDir)) {
        throw new DomainError(
          'INVALID_INPUT',
          `group ${path} needs a gid (--gid N) for a uid range or a shared directory: its members' files belong to that group`,
        );
      }
      await this.checkUnique(trx, group, next);
      if (request.uidRange !== undefined && !before.uidRange) {
        await uidRepository.record(trx, { ...next.uidRange!, groupId: group.id, groupPath: path, now: clock.now() });
      }
      await groupRepository.setUnix(trx, group.id, next, clock.now());
      await audit.record(trx, actor, { action: 'group.unix.set', targetType: 'group', target: path, details: { before, after: next } });
    });
  }

  /** The Unix identity of each of `groupIds` (the owner's groups), in path order. */
  async identities(groupIds: number[]): Promise<GroupIdentity[]> {
    const groups = await groupRepository.findByIds(this.deps.db, groupIds);
    return groups.map((g) => ({ id: g.id, path: g.path, ...g.unix }));
  }

  /**
   * The uid `userId` runs as in a ranged group: the one given before, else the lowest uid of the
   * range above those given so far that no agent-user link names, recorded in the same transaction.
   */
  async uidFor(group: GroupIdentity, userId: number): Promise<number> {
    const { db, clock } = this.deps;
    const range = group.uidRange;
    if (!range) throw new Error(`group ${group.path} has no uid range`);
    return db.transaction().execute(async (trx) => {
      // One allocation in the group at a time: two new members never get the same uid, nor one member two.
      await uidRepository.lockGroupUids(trx, group.id);
      const given = await uidRepository.uidOf(trx, group.id, userId);
      if (given !== undefined) return given;
      let uid = Math.max(range.start, ((await uidRepository.maxUid(trx, group.id)) ?? range.start - 1) + 1);
      while (uid < range.start + range.size && (await uidRepository.isLinked(trx, uid))) uid++;
      if (uid >= range.start + range.size) {
        throw new DomainError(
          'CONFLICT',
          `the uid range of group ${group.path} (${describeRange(range)}) has no uid left for another member: an admin gives the group a new one`,
        );
      }
      await uidRepository.insertUid(trx, group.id, userId, uid, clock.now());
      return uid;
    });
  }

  /**
   * The member a group's range gave `uid` to, if one was: the users domain asks before it links
   * anyone to a uid, so that an allocated uid stays its owner's (the allocation in turn skips
   * linked uids, see `uidFor`).
   */
  async uidOwner(db: Executor, uid: number): Promise<{ userId: number; username: string; groupPath: string } | undefined> {
    return uidRepository.owner(db, uid);
  }

  /** The range a request asks for: the next block of security.uid_ranges, or an explicit one no recorded range touches. */
  private async range(trx: Executor, group: GroupRecord, requested: 'auto' | UidRange): Promise<UidRange> {
    const current = group.unix.uidRange;
    if (current) {
      if (requested !== 'auto' && requested.start === current.start && requested.size === current.size) return current;
      throw new DomainError(
        'UID_RANGE_CONFLICT',
        `group ${group.path} already has the uid range ${describeRange(current)}; a range never changes, since files on shared disks carry its uids`,
      );
    }
    const { base, size } = this.deps.uidRanges;
    if (requested === 'auto') {
      const high = (await uidRepository.highWater(trx)) ?? base;
      const start = base + Math.ceil(Math.max(0, high - base) / size) * size;
      const overlap = await uidRepository.overlapping(trx, start, size);
      if (overlap) throw new Error(`uid range ${start}/${size} overlaps ${overlap.start}/${overlap.size} above the high-water mark`);
      return { start, size };
    }
    const end = requested.start + requested.size - 1;
    if (end > 4294967294) throw new DomainError('INVALID_INPUT', `uid range ${describeRange(requested)} ends above 4294967294, the highest uid`);
    const taskUid = this.deps.defaultTaskUid;
    if (requested.start <= taskUid && taskUid <= end) {
      throw new DomainError('UID_RANGE_CONFLICT', `uid range ${describeRange(requested)} holds ${taskUid}, the uid of security.default_task`);
    }
    const overlap = await uidRepository.overlapping(trx, requested.start, requested.size);
    if (overlap) {
      throw new DomainError(
        'UID_RANGE_CONFLICT',
        `uid range ${describeRange(requested)} overlaps ${describeRange(overlap)}, handed out to ${overlap.groupPath}; ranges are never shared or reused, even after their group is deleted`,
      );
    }
    return requested;
  }

  private async checkUnique(trx: Executor, group: GroupRecord, next: GroupUnix): Promise<void> {
    if (next.gid !== null && next.gid !== group.unix.gid) {
      const holder = await groupRepository.findByUnix(trx, { gid: next.gid });
      if (holder) throw new DomainError('UNIX_ID_TAKEN', `gid ${next.gid} is already the gid of group ${holder.path}`);
      const range = await uidRepository.overlapping(trx, next.gid, 1);
      if (range) {
        // Not wrong in itself, but a gid equal to some member's uid is how user-private groups get confused.
        throw new DomainError('UNIX_ID_TAKEN', `gid ${next.gid} lies in the uid range ${describeRange(range)} of ${range.groupPath}; choose a gid outside every uid range`);
      }
    }
    if (next.unixGroup !== null && next.unixGroup !== group.unix.unixGroup) {
      const holder = await groupRepository.findByUnix(trx, { unixGroup: next.unixGroup });
      if (holder) throw new DomainError('UNIX_ID_TAKEN', `Unix group name ${next.unixGroup} is already the name of group ${holder.path}'s gid`);
    }
  }
}

/** "1000040000/10000 (1000040000-1000049999)". */
export const describeRange = (range: UidRange) => `${range.start}/${range.size} (${range.start}-${range.start + range.size - 1})`;

/** `research/vision` -> `research-vision`, cut to the 32 characters of a Unix name. */
const defaultUnixGroup = (path: string) => path.replace(/\//g, '-').slice(0, 32);
