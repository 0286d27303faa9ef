import { Args, Errors, Flags } from '@oclif/core';
import type { QuotaUsage } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { usageRows, usageTable, usageView } from '../../lib/quota-format.js';
import { outputFlags } from '../../lib/output.js';

export default class QuotaShow extends YardCommand<typeof QuotaShow> {
  static override summary = 'Show the quotas covering you, a user or a group: used and limit per resource, and fair-share usage.';
  static override description =
    "Yours by default, with your groups' quotas; a group's if you are a member. Another user's, or any group's, " +
    'needs see_status or change_config. Here -u (--as) is whom this command runs as.';
  static override examples = [
    '<%= config.bin %> quota show',
    '<%= config.bin %> -u admin quota show alice',
    '<%= config.bin %> quota show --group research --json',
  ];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override args = { user: Args.string({ required: false, description: 'user name (default: you)' }) };
  static override flags = {
    ...outputFlags,
    group: Flags.string({ char: 'g', summary: "The group's aggregate quotas instead of a user's." }),
  };

  async run(): Promise<QuotaUsage> {
    const { user } = this.args;
    const { group } = this.flags;
    if (user !== undefined && group !== undefined) throw new Errors.CLIError('give a user or --group, not both', { exit: 2 });
    const usage = await (await this.session()).call('quotas.usage', { query: { user, group } });
    await this.print({ data: usage, items: usageRows(usage), view: usageView(usage), text: () => usageTable(usage, this.colour) });
    return usage;
  }
}
