import { Args } from '@oclif/core';
import type { Group } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class GroupRemoveMember extends YardCommand<typeof GroupRemoveMember> {
  static override summary = "Remove a user from a group: the group's roles stop applying on their next command (change_config).";
  static override examples = ['<%= config.bin %> -u admin group remove-member research/vision dave'];
  static override args = {
    path: Args.string({ required: true, description: 'group path' }),
    user: Args.string({ required: true, description: 'user name' }),
  };

  async run(): Promise<Group> {
    const group = await (await this.session()).call('groups.removeMember', { params: { path: this.args.path, username: this.args.user } });
    this.log(`Removed ${this.args.user} from ${group.path}.`);
    return group;
  }
}
