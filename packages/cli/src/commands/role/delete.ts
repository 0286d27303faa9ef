import { Args } from '@oclif/core';
import type { RoleAssignment } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class RoleDelete extends YardCommand<typeof RoleDelete> {
  static override summary = 'Delete a role; its assignments go with it (change_config).';
  static override description = 'The built-in roles admin and user, and security.default_role, cannot be deleted.';
  static override examples = ['<%= config.bin %> -u admin role delete operator'];
  static override args = { name: Args.string({ required: true, description: 'role name' }) };

  async run(): Promise<{ name: string; deleted: true; assignments: RoleAssignment[] }> {
    const result = await (await this.session()).call('roles.delete', { params: { name: this.args.name } });
    this.log(`Deleted role ${result.name} and its ${result.assignments.length} assignment(s).`);
    return result;
  }
}
