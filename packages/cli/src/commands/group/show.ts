import { Args } from '@oclif/core';
import type { GroupDetail } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { describeGroup } from '../../lib/access-format.js';

export default class GroupShow extends YardCommand<typeof GroupShow> {
  static override summary = 'Show a group: members, subgroups, roles given to it, and roles scoped to it (change_config).';
  static override examples = ['<%= config.bin %> -u admin group show research/vision'];
  static override args = { path: Args.string({ required: true, description: 'group path' }) };

  async run(): Promise<GroupDetail> {
    const group = await (await this.session()).call('groups.get', { params: { path: this.args.path } });
    this.log(describeGroup(group));
    return group;
  }
}
