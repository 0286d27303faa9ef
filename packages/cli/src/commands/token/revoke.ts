import { Args, Flags } from '@oclif/core';
import type { ApiTokenInfo } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';

export default class TokenRevoke extends YardCommand<typeof TokenRevoke> {
  static override summary = 'Revoke a personal API token: it stops working at once; --user for someone else\'s (change_config).';
  static override examples = ['<%= config.bin %> token revoke ci', '<%= config.bin %> -u admin token revoke ci --user alice'];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override args = { name: Args.string({ required: true, description: 'token name' }) };
  static override flags = { user: Flags.string({ summary: "Whose token (change_config for someone else's)." }) };

  async run(): Promise<ApiTokenInfo> {
    const info = await (await this.session()).call('tokens.revoke', { params: { name: this.args.name }, query: { user: this.flags.user } });
    this.log(`Revoked API token '${info.name}' of ${info.user}.`);
    return info;
  }
}
