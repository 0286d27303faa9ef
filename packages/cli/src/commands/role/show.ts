import { Args } from '@oclif/core';
import type { RoleDetail } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { describeRole, rolesView } from '../../lib/access-format.js';
import { outputFlags } from '../../lib/output.js';

export default class RoleShow extends YardCommand<typeof RoleShow> {
  static override summary = 'Show a role: its capabilities and everyone it is given to, with scopes (change_config).';
  static override examples = ['<%= config.bin %> -u admin role show operator', '<%= config.bin %> -u admin role show operator -o yaml'];
  static override args = { name: Args.string({ required: true, description: 'role name' }) };
  static override flags = outputFlags;

  async run(): Promise<RoleDetail> {
    const role = await (await this.session()).call('roles.get', { params: { name: this.args.name } });
    await this.print({ data: role, items: [role], view: rolesView, text: () => describeRole(role) });
    return role;
  }
}
