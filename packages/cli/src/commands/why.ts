import { Args } from '@oclif/core';
import type { TaskWhy } from '@trainyard/shared';
import { YardCommand } from '../base-command.js';
import { outputFlags } from '../lib/output.js';
import { describeWhy, whyChecksView } from '../lib/why-format.js';

export default class Why extends YardCommand<typeof Why> {
  static override summary = 'Why a task waits: every reason at once, each limit with used and limit, each machine, who is ahead, and when it may start.';
  static override description =
    'Every layer the scheduler checks: the owner\'s quotas, the quotas of the task\'s group and of every group above it ' +
    '(and each member\'s share), the budgets over their windows, the group\'s guarantee in its pool (borrowing); each ' +
    'machine of its pool and why the task does not fit there; its place in the queue and its fair-share rank; and an ' +
    'estimated start from the running tasks\' limits and run lengths in the usage ledger, with its error and how sure it ' +
    'is. The owner or holders of operate_others. --json gives the same as GET /api/v1/tasks/ID/why.';
  static override examples = ['<%= config.bin %> why 12', '<%= config.bin %> why 12 --json', '<%= config.bin %> why 12 -o csv   # every limit checked, one a row'];
  static override flags = outputFlags;
  static override args = { id: Args.integer({ required: true, min: 1, description: 'task id' }) };

  async run(): Promise<TaskWhy> {
    const why = await (await this.session()).call('tasks.why', { params: { id: this.args.id } });
    await this.print({ data: why, items: why.checks, view: whyChecksView, text: () => describeWhy(why) });
    return why;
  }
}
