import { Flags } from '@oclif/core';
import type { GuaranteeStatus } from '@trainyard/shared';
import { YardCommand } from '../../../base-command.js';
import { guaranteesTable, guaranteesView } from '../../../lib/guarantee-format.js';
import { outputFlags } from '../../../lib/output.js';

export default class QuotaGuaranteeList extends YardCommand<typeof QuotaGuaranteeList> {
  static override summary = 'List guarantees: guaranteed, in use, borrowed and lent per group and pool.';
  static override description = "BORROWED: what the group's tasks hold beyond its guarantee (preempted first when a sibling needs its own back); LENT: of its guarantee, what its siblings hold now.";
  static override examples = ['<%= config.bin %> quota guarantee list', '<%= config.bin %> quota guarantee list --pool gpu --json'];
  static override flags = {
    ...outputFlags,
    pool: Flags.string({ summary: 'Only this pool.' }),
    group: Flags.string({ summary: 'Only this group.' }),
  };

  async run(): Promise<{ items: GuaranteeStatus[] }> {
    const list = await (await this.session()).call('guarantees.list', { query: { pool: this.flags.pool, group: this.flags.group } });
    await this.print({ data: list, items: list.items, view: guaranteesView, text: () => (list.items.length === 0 ? 'No guarantees.' : guaranteesTable(list.items, this.colour)) });
    return list;
  }
}
