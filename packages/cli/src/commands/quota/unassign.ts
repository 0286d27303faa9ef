import { Args } from '@oclif/core';
import type { QuotaAssignment } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { holderName, quotaHolderFlags } from '../../lib/quota-flags.js';

export default class QuotaUnassign extends YardCommand<typeof QuotaUnassign> {
  static override summary = 'Take a quota from a user or a group (change_config).';
  static override description = 'It applies at the next scheduling decision. Here -u (--as) is whom this command runs as; --user is the quota holder.';
  static override examples = [
    '<%= config.bin %> -u admin quota unassign interactive --user alice',
    '<%= config.bin %> -u admin quota unassign research-gpus --group research',
  ];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override args = { quota: Args.string({ required: true, description: 'quota name' }) };
  static override flags = quotaHolderFlags;

  async run(): Promise<QuotaAssignment> {
    const { user, group } = this.flags;
    const a = await (await this.session()).call('quotas.unassign', { params: { name: this.args.quota }, query: { user, group } });
    this.log(`Took quota ${a.quota} from ${holderName(a)}.`);
    return a;
  }
}
