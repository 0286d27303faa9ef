import { Args } from '@oclif/core';
import type { Group } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class GroupAddMember extends YardCommand<typeof GroupAddMember> {
  static override summary = "Add a user to a group: they hold the group's roles from their next command on (change_config).";
  static override examples = ['<%= config.bin %> -u admin group add-member research/vision dave'];
  static override args = {
    path: Args.string({ required: true, description: 'group path' }),
    user: Args.string({ required: true, description: 'user name' }),
  };

  async run(): Promise<Group> {
    const group = await (await this.session()).call('groups.addMember', { params: { path: this.args.path }, body: { username: this.args.user } });
    this.log(`Added ${this.args.user} to ${group.path} (${group.memberCount} members).`);
    return group;
  }
}
