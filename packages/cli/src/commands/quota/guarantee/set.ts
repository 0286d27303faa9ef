import { Args, Errors, Flags } from '@oclif/core';
import type { GuaranteeRequest, GuaranteeStatus } from '@trainyard/shared';
import { YardCommand } from '../../../base-command.js';
import { amountsFrom, guaranteesTable } from '../../../lib/guarantee-format.js';

export default class QuotaGuaranteeSet extends YardCommand<typeof QuotaGuaranteeSet> {
  static override summary = "Give a group a guaranteed share of a pool, with how much it may borrow and lend (change_config).";
  static override description =
    'Its tasks may always use the guarantee in the pool; beyond it, tasks that may be preempted borrow what their ' +
    "cohort (the groups with a guarantee in the same pool under the same parent) leaves idle, up to --borrowing-limit; " +
    "each group lends at most --lending-limit of its guarantee. When a group needs its guarantee back, its siblings' " +
    'borrowed tasks are preempted, the newest first: stopped with the grace period and queued again. Tasks submitted ' +
    'with --no-preempt never borrow. Guarantees cover the subtree of the group, but for subgroups with their own. ' +
    'Leave out what stays as it was; none clears it.';
  static override examples = [
    '<%= config.bin %> -u admin quota guarantee set research/vision --pool gpu --gpus 2',
    '<%= config.bin %> -u admin quota guarantee set research/nlp --pool gpu --gpus 2 --borrowing-limit gpus=2 --lending-limit gpus=1',
    '<%= config.bin %> -u admin quota guarantee set research/nlp --pool gpu --cpu 32 --gpus none',
  ];
  static override args = { group: Args.string({ required: true, description: 'group path' }) };
  static override flags = {
    pool: Flags.string({ summary: 'The pool (yard pool list).', required: true }),
    gpus: Flags.string({ summary: 'GPUs guaranteed (none: not governed).' }),
    cpu: Flags.string({ summary: 'CPUs guaranteed (none: not governed).' }),
    'borrowing-limit': Flags.string({ summary: 'The most it may borrow beyond its guarantee: gpus=N,cpu=N (none: no limit).' }),
    'lending-limit': Flags.string({ summary: 'The most of its idle guarantee its siblings may borrow: gpus=N,cpu=N (none: all of it).' }),
  };

  async run(): Promise<GuaranteeStatus> {
    const amount = (flag: string, value: string | undefined) => {
      if (value === undefined) return undefined;
      if (value === 'none') return null;
      if (!/^\d{1,9}(\.\d{1,3})?$/.test(value)) throw new Errors.CLIError(`--${flag} must be a number or none, got '${value}'`, { exit: 2 });
      return Number(value);
    };
    const { flags } = this;
    const body: GuaranteeRequest = { group: this.args.group, pool: flags.pool };
    const gpus = amount('gpus', flags.gpus);
    const cpu = amount('cpu', flags.cpu);
    if (gpus !== undefined) body.gpus = gpus;
    if (cpu !== undefined) body.cpu = cpu;
    const borrowing = amountsFrom('borrowing-limit', flags['borrowing-limit']);
    const lending = amountsFrom('lending-limit', flags['lending-limit']);
    if (borrowing) body.borrowingLimit = borrowing;
    if (lending) body.lendingLimit = lending;
    const status = await (await this.session()).call('guarantees.set', { body });
    this.log(`Guarantee of group ${status.group} in pool ${status.pool}:\n${guaranteesTable([status])}`);
    return status;
  }
}
