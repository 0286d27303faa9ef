import { Args } from '@oclif/core';
import type { User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class UserUnlinkAgentUser extends YardCommand<typeof UserUnlinkAgentUser> {
  static override summary = "Remove a user's agent-user link: new tasks run as security.default_task (admins only).";
  static override examples = ['<%= config.bin %> -u admin user unlink-agent-user alice'];
  static override args = { name: Args.string({ required: true, description: 'Trainyard user to unlink' }) };

  async run(): Promise<User> {
    const user = await (await this.session()).call('users.unlink', { params: { username: this.args.name } });
    this.log(`${user.username} is no longer linked; new tasks run as the master's default task user.`);
    return user;
  }
}
