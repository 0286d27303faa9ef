import { Args } from '@oclif/core';
import type { QuotaAssignment } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { holderName, quotaHolderFlags } from '../../lib/quota-flags.js';

export default class QuotaAssign extends YardCommand<typeof QuotaAssign> {
  static override summary = 'Give a quota to a user (their own tasks) or a group (the sum of the tasks created in it) (change_config).';
  static override description = 'It applies at the next scheduling decision. Here -u (--as) is whom this command runs as; --user is the quota holder.';
  static override examples = [
    '<%= config.bin %> -u admin quota assign interactive --user alice',
    '<%= config.bin %> -u admin quota assign research-gpus --group research',
  ];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override args = { quota: Args.string({ required: true, description: 'quota name' }) };
  static override flags = quotaHolderFlags;

  async run(): Promise<QuotaAssignment> {
    const { user, group } = this.flags;
    const a = await (await this.session()).call('quotas.assign', { params: { name: this.args.quota }, body: { ...(user === undefined ? {} : { user }), ...(group === undefined ? {} : { group }) } });
    this.log(`Assigned quota ${a.quota} to ${holderName(a)}.`);
    return a;
  }
}
