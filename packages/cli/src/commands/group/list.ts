import type { Group, Page } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { groupsView } from '../../lib/access-format.js';
import { outputFlags } from '../../lib/output.js';

export default class GroupList extends YardCommand<typeof GroupList> {
  static override summary = 'List groups with their member and subgroup counts (change_config).';
  static override examples = ['<%= config.bin %> -u admin group list', '<%= config.bin %> -u admin group list --json', '<%= config.bin %> -u admin group list -o name'];
  static override flags = outputFlags;

  async run(): Promise<Page<Group>> {
    const page = await (await this.session()).call('groups.list');
    await this.print({ data: page, items: page.items, view: groupsView });
    return page;
  }
}
