import { Args } from '@oclif/core';
import type { GroupDetail } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { describeGroup, groupsView } from '../../lib/access-format.js';
import { outputFlags } from '../../lib/output.js';

export default class GroupShow extends YardCommand<typeof GroupShow> {
  static override summary = 'Show a group: members, subgroups, roles given to it, and roles scoped to it (change_config).';
  static override examples = ['<%= config.bin %> -u admin group show research/vision', '<%= config.bin %> -u admin group show research -o json --fields members,subgroups'];
  static override args = { path: Args.string({ required: true, description: 'group path' }) };
  static override flags = outputFlags;

  async run(): Promise<GroupDetail> {
    const group = await (await this.session()).call('groups.get', { params: { path: this.args.path } });
    await this.print({ data: group, items: [group], view: groupsView, text: () => describeGroup(group) });
    return group;
  }
}
