import { Args } from '@oclif/core';
import type { UserAccess } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { describeUserAccess } from '../../lib/access-format.js';
import { usersView } from '../../lib/format.js';
import { outputFlags } from '../../lib/output.js';

export default class UserShow extends YardCommand<typeof UserShow> {
  static override summary = "Show a user's groups, roles, and each capability they hold with the role and group it comes from.";
  static override description = 'Yourself when NAME is left out; anyone else needs change_config.';
  static override examples = ['<%= config.bin %> user show', '<%= config.bin %> -u admin user show carol --json', '<%= config.bin %> user show -o yaml'];
  static override args = { name: Args.string({ description: 'user name (yourself when left out)' }) };
  static override flags = outputFlags;

  async run(): Promise<UserAccess> {
    const session = await this.session();
    const name = this.args.name?.trim().toLowerCase() ?? (await session.call('me')).user.username;
    const access = await session.call('users.access', { params: { username: name } });
    await this.print({ data: access, items: [access.user], view: usersView, text: () => describeUserAccess(access) });
    return access;
  }
}
