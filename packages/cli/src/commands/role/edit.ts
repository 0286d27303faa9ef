import { Args, Flags } from '@oclif/core';
import type { RoleDetail } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { describeRole } from '../../lib/access-format.js';
import { capabilitiesFlag } from '../../lib/flags.js';

export default class RoleEdit extends YardCommand<typeof RoleEdit> {
  static override summary = "Change a role's capabilities or description; holders get the change on their next command (change_config).";
  static override description = 'The built-in roles admin and user cannot be edited. --capabilities replaces the whole set.';
  static override examples = ['<%= config.bin %> -u admin role edit operator --capabilities operate_others'];
  static override args = { name: Args.string({ required: true, description: 'role name' }) };
  static override flags = {
    capabilities: capabilitiesFlag,
    description: Flags.string({ char: 'd', summary: 'What the role is for.' }),
  };

  async run(): Promise<RoleDetail> {
    const role = await (await this.session()).call('roles.update', {
      params: { name: this.args.name },
      body: {
        ...(this.flags.capabilities === undefined ? {} : { capabilities: this.flags.capabilities }),
        ...(this.flags.description === undefined ? {} : { description: this.flags.description }),
      },
    });
    this.log(describeRole(role));
    return role;
  }
}
