import type { QueueView } from '@trainyard/shared';
import { YardCommand } from '../base-command.js';
import { queueTable, queueView } from '../lib/quota-format.js';
import { outputFlags } from '../lib/output.js';

export default class Queue extends YardCommand<typeof Queue> {
  static override summary = 'Show the queue in the order the scheduler will try it, with each owner\'s usage and why each task waits.';
  static override description =
    'Under scheduler.policy fair_share, owners with less recent usage (decayed CPU- and GPU-seconds) come first, then ' +
    'the oldest task; under fifo, the oldest first. REASON: QUOTA_<RESOURCE>_USER (the owner\'s quota), ' +
    'QUOTA_<RESOURCE>_GROUP:<path> (the group\'s), NO_AGENT_FITS (no agent has the room or the image now); none: its turn.';
  static override examples = ['<%= config.bin %> queue', '<%= config.bin %> queue --json', '<%= config.bin %> queue -o csv'];
  static override flags = outputFlags;

  async run(): Promise<QueueView> {
    const view = await (await this.session()).call('queue');
    await this.print({ data: view, items: view.items, view: queueView, text: () => queueTable(view, this.colour) });
    return view;
  }
}
