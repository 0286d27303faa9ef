import { Args } from '@oclif/core';
import type { User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { setActive } from '../../lib/user-actions.js';

export default class UserDeactivate extends YardCommand<typeof UserDeactivate> {
  static override summary = 'Deactivate a user: they cannot log in and their sessions end at once; their tasks stay visible (admins only).';
  static override examples = ['<%= config.bin %> -u admin user deactivate alice'];
  static override args = { name: Args.string({ required: true, description: 'user to deactivate' }) };

  async run(): Promise<User> {
    const user = await setActive(await this.session(), this.args.name, false);
    this.log(`${user.username} is now ${user.active ? 'active' : 'deactivated'}.`);
    return user;
  }
}
