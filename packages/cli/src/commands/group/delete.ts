import { Args } from '@oclif/core';
import { YardCommand } from '../../base-command.js';

export default class GroupDelete extends YardCommand<typeof GroupDelete> {
  static override summary = "Delete a group: its members keep their accounts and tasks; roles given to it or scoped to it go (change_config).";
  static override description = 'A group with subgroups cannot be deleted: delete or move them first.';
  static override examples = ['<%= config.bin %> -u admin group delete research/vision'];
  static override args = { path: Args.string({ required: true, description: 'group path' }) };

  async run(): Promise<{ path: string; deleted: true; members: string[] }> {
    const result = await (await this.session()).call('groups.delete', { params: { path: this.args.path } });
    this.log(`Deleted group ${result.path}${result.members.length ? ` (it had ${result.members.length} members)` : ''}.`);
    return result;
  }
}
