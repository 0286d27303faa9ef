import { Args } from '@oclif/core';
import { YardCommand } from '../../base-command.js';

export default class QuotaDelete extends YardCommand<typeof QuotaDelete> {
  static override summary = 'Delete a quota and its assignments; waiting tasks it held back may start (change_config).';
  static override examples = ['<%= config.bin %> -u admin quota delete guests'];
  static override args = { name: Args.string({ required: true, description: 'quota name' }) };

  async run(): Promise<{ name: string; deleted: true }> {
    const result = await (await this.session()).call('quotas.delete', { params: { name: this.args.name } });
    this.log(`Deleted quota ${result.name}.`);
    return result;
  }
}
