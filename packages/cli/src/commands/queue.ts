import type { QueueView } from '@trainyard/shared';
import { YardCommand } from '../base-command.js';
import { queueTable, queueView } from '../lib/quota-format.js';
import { outputFlags } from '../lib/output.js';

export default class Queue extends YardCommand<typeof Queue> {
  static override summary = 'Show the queue in the order the scheduler will try it, with each owner\'s usage and why each task waits.';
  static override description =
    'Under scheduler.policy fair_share (hierarchical, Slurm\'s Fair Tree): groups whose usage is lowest against their ' +
    'share (yard group set --fair-share-weight) come first, then the people in them by the same rule, then the oldest ' +
    'task; under fifo, the oldest first. Each owner\'s tasks go in their own --priority order (PRIO). REASON: ' +
    'QUOTA_<RESOURCE>_USER (the owner\'s quota), QUOTA_<RESOURCE>_GROUP:<path> (a group\'s, down the tree), ' +
    'QUOTA_<RESOURCE>_PER_USER:<path> (the owner\'s share of it), BUDGET_* (a budget spent), NO_BORROW_*, ' +
    'BORROW_LIMIT_*, COHORT_* (guarantees), NO_AGENT_FITS (no agent has the room or the image now); none: its turn. ' +
    'yard why ID says every reason at once. Below the queue: each guarantee, what its group holds, borrows and lends.';
  static override examples = ['<%= config.bin %> queue', '<%= config.bin %> queue --json', '<%= config.bin %> queue -o csv', '<%= config.bin %> why 12   # every reason one of them waits'];
  static override flags = outputFlags;

  async run(): Promise<QueueView> {
    const view = await (await this.session()).call('queue');
    await this.print({ data: view, items: view.items, view: queueView, text: () => queueTable(view, this.colour) });
    return view;
  }
}
