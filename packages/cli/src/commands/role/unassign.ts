import { Args } from '@oclif/core';
import type { RoleAssignment } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { rolePath } from '../../lib/access-format.js';
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
    const query = new URLSearchParams();
    for (const key of ['user', 'group', 'scope'] as const) {
      const value = this.flags[key];
      if (value !== undefined) query.set(key, value);
    }
    const assignment = await (await this.session()).request<RoleAssignment>('DELETE', `${rolePath(this.args.role)}/assignments?${query}`);
    const from = assignment.user ? `user ${assignment.user}` : `group ${assignment.group}`;
    this.log(`Took role ${assignment.role}${assignment.scope ? ` (scope ${assignment.scope})` : ''} from ${from}.`);
    return assignment;
  }
}
