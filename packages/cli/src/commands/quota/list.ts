import type { Quota } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { quotasTable } from '../../lib/quota-format.js';

export default class QuotaList extends YardCommand<typeof QuotaList> {
  static override summary = 'List quotas with their limits and whom they are assigned to (see_status or change_config).';
  static override examples = ['<%= config.bin %> -u admin quota list', '<%= config.bin %> -u admin quota list --json'];

  async run(): Promise<{ items: Quota[] }> {
    const list = await (await this.session()).call('quotas.list');
    this.log(list.items.length === 0 ? 'No quotas.' : quotasTable(list.items));
    return list;
  }
}
