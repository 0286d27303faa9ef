import type { Group, Page } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { groupsTable } from '../../lib/access-format.js';

export default class GroupList extends YardCommand<typeof GroupList> {
  static override summary = 'List groups with their member and subgroup counts (change_config).';
  static override examples = ['<%= config.bin %> -u admin group list', '<%= config.bin %> -u admin group list --json'];

  async run(): Promise<Page<Group>> {
    const page = await (await this.session()).call('groups.list');
    this.log(groupsTable(page.items));
    return page;
  }
}
