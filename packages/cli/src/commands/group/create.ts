import { Args } from '@oclif/core';
import type { Group } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class GroupCreate extends YardCommand<typeof GroupCreate> {
  static override summary = 'Create a group; a subgroup (research/vision) needs its parent (change_config).';
  static override description =
    'Group paths are segments of a-z, 0-9, ".", "_" and "-" joined by "/". Roles given to a group are held by its ' +
    'direct members; subgroups inherit nothing.';
  static override examples = ['<%= config.bin %> -u admin group create research', '<%= config.bin %> -u admin group create research/vision'];
  static override args = { path: Args.string({ required: true, description: 'group path, e.g. research/vision' }) };

  async run(): Promise<Group> {
    const group = await (await this.session()).call('groups.create', { body: { path: this.args.path } });
    this.log(`Created group ${group.path}.`);
    return group;
  }
}
