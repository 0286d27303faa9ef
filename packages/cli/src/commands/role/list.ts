import type { Page, Role } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { rolesTable } from '../../lib/access-format.js';

export default class RoleList extends YardCommand<typeof RoleList> {
  static override summary = 'List roles with their capabilities and how often they are assigned (change_config).';
  static override examples = ['<%= config.bin %> -u admin role list', '<%= config.bin %> -u admin role list --json'];

  async run(): Promise<Page<Role>> {
    const page = await (await this.session()).call('roles.list');
    this.log(rolesTable(page.items));
    return page;
  }
}
