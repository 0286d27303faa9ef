import { Args } from '@oclif/core';
import type { Quota } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { quotaLimitFlags, quotaRequestFrom } from '../../lib/quota-flags.js';
import { describeQuota } from '../../lib/quota-format.js';

export default class QuotaCreate extends YardCommand<typeof QuotaCreate> {
  static override summary = 'Create a quota: named limits to assign to users and groups (change_config).';
  static override description =
    'max_submitted refuses submissions past it; the other limits make tasks wait in the queue with a reason ' +
    '(QUOTA_RUNNING_USER, QUOTA_GPUS_GROUP:research...), or refuse them with --deny-on-limit. max_runtime kills a task ' +
    'that runs longer (KILLED, RUNTIME_LIMIT). Assigned to a user it limits their own tasks; to a group, the sum of the ' +
    'tasks created in that group and in every group below it (research covers research/vision). --per-user caps each ' +
    'member inside it; --pool counts one pool only; --gpu-hours and --cpu-hours are budgets over --window (rolling, or the ' +
    'calendar month), read from the usage ledger: once spent, tasks wait with BUDGET_*, and the owner and the audit log are told at 80%.';
  static override examples = [
    '<%= config.bin %> -u admin quota create interactive --max-running 2 --max-runtime 8h',
    '<%= config.bin %> -u admin quota create research-gpus --gpus 8 --memory 512GiB',
    '<%= config.bin %> -u admin quota create guests --max-submitted 3 --max-running 1 --deny-on-limit',
    '<%= config.bin %> -u admin quota create lab --gpus 16 --per-user 4',
    '<%= config.bin %> -u admin quota create lab-month --gpu-hours 500 --window month --pool gpu',
  ];
  static override args = { name: Args.string({ required: true, description: 'quota name: a-z, 0-9, ".", "_", "-"' }) };
  static override flags = quotaLimitFlags;

  async run(): Promise<Quota> {
    const quota = await (await this.session()).call('quotas.create', { body: { name: this.args.name, ...quotaRequestFrom(this.flags, false) } });
    this.log(describeQuota(quota));
    return quota;
  }
}
