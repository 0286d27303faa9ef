import { Args } from '@oclif/core';
import type { Group } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class GroupRename extends YardCommand<typeof GroupRename> {
  static override summary = 'Rename or move a group; its subgroups follow (change_config).';
  static override description = 'The new parent must exist, and a group cannot be moved under itself.';
  static override examples = [
    '<%= config.bin %> -u admin group rename research/vision research/cv',
    '<%= config.bin %> -u admin group rename research/cv ml/cv',
  ];
  static override args = {
    path: Args.string({ required: true, description: 'current group path' }),
    newPath: Args.string({ required: true, description: 'new group path' }),
  };

  async run(): Promise<Group> {
    const group = await (await this.session()).call('groups.rename', { params: { path: this.args.path }, body: { path: this.args.newPath } });
    this.log(`Renamed group ${this.args.path} to ${group.path}.`);
    return group;
  }
}
