import { Args } from '@oclif/core';
import type { RoleAssignment } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { assignmentFlags } from '../../lib/flags.js';

export default class RoleUnassign extends YardCommand<typeof RoleUnassign> {
  static override summary = 'Take a role from a user or a group; name the scope it was given with (change_config).';
  static override description = "It stops applying on the holder's next command. Here -u (--as) is whom this command runs as.";
  static override examples = [
    '<%= config.bin %> -u admin role unassign operator --user carol --scope research/vision',
    '<%= config.bin %> -u admin role unassign viewer --group research',
  ];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override args = { role: Args.string({ required: true, description: 'role name' }) };
  static override flags = assignmentFlags;

  async run(): Promise<RoleAssignment> {
    const { user, group, scope } = this.flags;
    const assignment = await (await this.session()).call('roles.unassign', { params: { name: this.args.role }, query: { user, group, scope } });
    const from = assignment.user ? `user ${assignment.user}` : `group ${assignment.group}`;
    this.log(`Took role ${assignment.role}${assignment.scope ? ` (scope ${assignment.scope})` : ''} from ${from}.`);
    return assignment;
  }
}
