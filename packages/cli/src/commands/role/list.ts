import type { Page, Role } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { rolesView } from '../../lib/access-format.js';
import { outputFlags } from '../../lib/output.js';

export default class RoleList extends YardCommand<typeof RoleList> {
  static override summary = 'List roles with their capabilities and how often they are assigned (change_config).';
  static override examples = ['<%= config.bin %> -u admin role list', '<%= config.bin %> -u admin role list --json', '<%= config.bin %> -u admin role list -o wide'];
  static override flags = outputFlags;

  async run(): Promise<Page<Role>> {
    const page = await (await this.session()).call('roles.list');
    await this.print({ data: page, items: page.items, view: rolesView });
    return page;
  }
}
