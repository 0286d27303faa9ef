import { Args } from '@oclif/core';
import type { RoleAssignment } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { assignmentFlags } from '../../lib/flags.js';

export default class RoleAssign extends YardCommand<typeof RoleAssign> {
  static override summary = 'Give a role to a user or a group, optionally scoped to a group (change_config).';
  static override description =
    'It applies from the holder\'s next command, with no new login. A scoped role (--scope PATH) covers only tasks ' +
    "whose owner is a direct member of PATH, and may hold only operate_others and delete_tasks. A role given to a " +
    'group cannot be scoped to that same group. Here -u (--as) is whom this command runs as; --user is who gets the role.';
  static override examples = [
    '<%= config.bin %> -u admin role assign operator --user carol --scope research/vision',
    '<%= config.bin %> -u admin role assign viewer --group research',
  ];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override args = { role: Args.string({ required: true, description: 'role name' }) };
  static override flags = assignmentFlags;

  async run(): Promise<RoleAssignment> {
    const { user, group, scope } = this.flags;
    const assignment = await (await this.session()).call('roles.assign', {
      params: { name: this.args.role },
      body: { ...(user === undefined ? {} : { user }), ...(group === undefined ? {} : { group }), ...(scope === undefined ? {} : { scope }) },
    });
    const to = assignment.user ? `user ${assignment.user}` : `group ${assignment.group}`;
    this.log(`Gave role ${assignment.role} to ${to}${assignment.scope ? `, scoped to ${assignment.scope}` : ''}.`);
    return assignment;
  }
}
