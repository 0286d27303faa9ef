import type { Quota } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { quotasView } from '../../lib/quota-format.js';
import { outputFlags } from '../../lib/output.js';

export default class QuotaList extends YardCommand<typeof QuotaList> {
  static override summary = 'List quotas with their limits and whom they are assigned to (see_status or change_config).';
  static override examples = ['<%= config.bin %> -u admin quota list', '<%= config.bin %> -u admin quota list --json', '<%= config.bin %> -u admin quota list -o yaml'];
  static override flags = outputFlags;

  async run(): Promise<{ items: Quota[] }> {
    const list = await (await this.session()).call('quotas.list');
    await this.print({ data: list, items: list.items, view: quotasView, ...(list.items.length ? {} : { text: () => 'No quotas.' }) });
    return list;
  }
}
