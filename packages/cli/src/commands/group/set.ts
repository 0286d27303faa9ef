import { Args, Errors, Flags } from '@oclif/core';
import type { GroupDetail, GroupPoolRequest, GroupUnixRequest } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { describeGroup } from '../../lib/access-format.js';

export default class GroupSet extends YardCommand<typeof GroupSet> {
  static override summary = "Set a group's Unix identity (gid, Unix group name, uid range, shared directory), default pool or fair-share weight (change_config).";
  static override description =
    "Members' tasks get the gid as a supplementary group, named --unix-group inside the container (default: the path " +
    'with "/" as "-"). With a uid range, tasks created in the group (--group) run as a uid from it: a linked user\'s ' +
    'uid must lie in it, an unlinked member gets a uid of their own, the same ever after, with the gid as primary ' +
    'group. `auto` takes the next block of security.uid_ranges; a range never changes and is never reused. ' +
    'With --shared-dir on, every member\'s task mounts <shared_root>/<path> of its agent at /shared/<path> (root:gid, ' +
    'mode 2770, umask 0002); off stops the mount from the next task on and deletes nothing. A range or a shared ' +
    'directory needs a gid. --default-pool sends the tasks created in the group that name no pool to that pool ' +
    "(yard pool list); --no-default-pool sends them to the master's default_pool again. --fair-share-weight sets its share " +
    "against its sibling groups (and the parent's own members, 1 each) in hierarchical fair share (default 1).";
  static override examples = [
    '<%= config.bin %> -u admin group set research/vision --gid 5001 --uid-range auto --shared-dir on',
    '<%= config.bin %> -u admin group set research --gid 5000 --unix-group research --uid-range 1000040000/10000',
    '<%= config.bin %> -u admin group set research/vision --shared-dir off',
    '<%= config.bin %> -u admin group set research/vision --default-pool gpu',
    '<%= config.bin %> -u admin group set research --fair-share-weight 3',
  ];
  static override args = { path: Args.string({ required: true, description: 'group path' }) };
  static override flags = {
    gid: Flags.integer({ summary: "The group's Unix gid (unique among groups).", min: 1 }),
    'no-gid': Flags.boolean({ summary: 'Take the gid (and its name) away.', exclusive: ['gid', 'unix-group'] }),
    'unix-group': Flags.string({ summary: "The gid's name inside tasks (a Unix group name, unique among groups)." }),
    'uid-range': Flags.string({ summary: 'auto (the next block of security.uid_ranges) or START/SIZE, such as 1000040000/10000.' }),
    'shared-dir': Flags.string({ summary: "Mount the group's shared directory into its members' tasks.", options: ['on', 'off'] }),
    'default-pool': Flags.string({ summary: 'The pool its tasks go to when they name none (yard pool list).' }),
    'no-default-pool': Flags.boolean({ summary: "Its tasks go to the master's default_pool again.", exclusive: ['default-pool'] }),
    'fair-share-weight': Flags.string({ summary: 'Its share against its siblings in fair share (a positive number; default 1).' }),
  };

  async run(): Promise<GroupDetail> {
    const { flags } = this;
    const changes: GroupUnixRequest = {
      ...(flags.gid === undefined ? {} : { gid: flags.gid }),
      ...(flags['no-gid'] ? { gid: null } : {}),
      ...(flags['unix-group'] === undefined ? {} : { unixGroup: flags['unix-group'] }),
      ...(flags['uid-range'] === undefined ? {} : { uidRange: parseRange(flags['uid-range']) }),
      ...(flags['shared-dir'] === undefined ? {} : { sharedDir: flags['shared-dir'] === 'on' }),
    };
    const pool: GroupPoolRequest | undefined =
      flags['default-pool'] !== undefined ? { defaultPool: flags['default-pool'] } : flags['no-default-pool'] ? { defaultPool: null } : undefined;
    const weightText = flags['fair-share-weight'];
    const weight = weightText === undefined ? undefined : Number(weightText);
    if (weight !== undefined && !(Number.isFinite(weight) && weight > 0 && /^\d+(\.\d+)?$/.test(weightText!))) {
      throw new Errors.CLIError(`--fair-share-weight must be a positive number, got '${weightText}'`, { exit: 2 });
    }
    if (Object.keys(changes).length === 0 && !pool && weight === undefined) {
      throw new Errors.CLIError('nothing to change: give --gid, --unix-group, --uid-range, --shared-dir, --default-pool or --fair-share-weight', { exit: 2 });
    }
    const session = await this.session();
    const params = { path: this.args.path };
    let group = Object.keys(changes).length > 0 ? await session.call('groups.setUnix', { params, body: changes }) : undefined;
    if (pool) group = await session.call('groups.setPool', { params, body: pool });
    if (weight !== undefined) group = await session.call('groups.setFairShare', { params, body: { weight } });
    this.log(`Updated group ${group!.path}.\n${describeGroup(group!)}`);
    return group!;
  }
}

/** `auto`, or `START/SIZE` (OpenShift's spelling of a range). */
function parseRange(text: string): GroupUnixRequest['uidRange'] {
  if (text === 'auto') return 'auto';
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) throw new Errors.CLIError(`--uid-range must be auto or START/SIZE (such as 1000040000/10000), not '${text}'`, { exit: 2 });
  return { start: Number(match[1]), size: Number(match[2]) };
}
