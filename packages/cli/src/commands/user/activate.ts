import { Args } from '@oclif/core';
import type { User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { setActive } from '../../lib/user-actions.js';

export default class UserActivate extends YardCommand<typeof UserActivate> {
  static override summary = 'Activate a user so they can log in again (admins only).';
  static override examples = ['<%= config.bin %> -u admin user activate alice'];
  static override args = { name: Args.string({ required: true, description: 'user to activate' }) };

  async run(): Promise<User> {
    const user = await setActive(await this.session(), this.args.name, true);
    this.log(`${user.username} is now ${user.active ? 'active' : 'deactivated'}.`);
    return user;
  }
}
