import { Args, Flags } from '@oclif/core';
import type { RoleDetail } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { describeRole } from '../../lib/access-format.js';
import { capabilitiesFlag } from '../../lib/flags.js';

export default class RoleCreate extends YardCommand<typeof RoleCreate> {
  static override summary = 'Create a role: a named set of capabilities (change_config).';
  static override examples = [
    '<%= config.bin %> -u admin role create operator --capabilities operate_others,delete_tasks',
    '<%= config.bin %> -u admin role create viewer -c see_status --description "sees the cluster"',
  ];
  static override args = { name: Args.string({ required: true, description: 'role name: a-z, 0-9, ".", "_", "-"' }) };
  static override flags = {
    capabilities: capabilitiesFlag,
    description: Flags.string({ char: 'd', summary: 'What the role is for.' }),
  };

  async run(): Promise<RoleDetail> {
    const role = await (await this.session()).call('roles.create', {
      body: {
        name: this.args.name,
        capabilities: this.flags.capabilities ?? [],
        ...(this.flags.description === undefined ? {} : { description: this.flags.description }),
      },
    });
    this.log(describeRole(role));
    return role;
  }
}
