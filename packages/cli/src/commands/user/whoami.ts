import type { MeResponse } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class UserWhoami extends YardCommand<typeof UserWhoami> {
  static override summary = 'Print the user this command acts as.';
  static override examples = ['<%= config.bin %> user whoami', '<%= config.bin %> -u admin user whoami --json'];

  async run(): Promise<MeResponse> {
    const me = await (await this.session()).call('me');
    this.log(me.user.username);
    return me;
  }
}
