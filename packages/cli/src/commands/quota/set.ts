import { Args } from '@oclif/core';
import type { Quota } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { quotaLimitFlags, quotaRequestFrom } from '../../lib/quota-flags.js';
import { describeQuota } from '../../lib/quota-format.js';

export default class QuotaSet extends YardCommand<typeof QuotaSet> {
  static override summary = "Change a quota's limits; `none` removes one (change_config).";
  static override description = 'Lowering a limit never stops running tasks: it holds back the next ones. Only max_runtime kills, by its definition.';
  static override examples = [
    '<%= config.bin %> -u admin quota set research-gpus --gpus 4',
    '<%= config.bin %> -u admin quota set interactive --max-runtime none --no-deny-on-limit',
    '<%= config.bin %> -u admin quota set research-gpus --per-user gpus=2',
    '<%= config.bin %> -u admin quota set daily --gpu-hours 1 --window 1d',
  ];
  static override args = { name: Args.string({ required: true, description: 'quota name' }) };
  static override flags = quotaLimitFlags;

  async run(): Promise<Quota> {
    const quota = await (await this.session()).call('quotas.update', { params: { name: this.args.name }, body: quotaRequestFrom(this.flags, true) });
    this.log(describeQuota(quota));
    return quota;
  }
}
