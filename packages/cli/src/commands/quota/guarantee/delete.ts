import { Args, Flags } from '@oclif/core';
import { YardCommand } from '../../../base-command.js';

export default class QuotaGuaranteeDelete extends YardCommand<typeof QuotaGuaranteeDelete> {
  static override summary = "Take a group's guarantee in a pool away; its tasks then neither borrow nor lend there (change_config).";
  static override examples = ['<%= config.bin %> -u admin quota guarantee delete research/vision --pool gpu'];
  static override args = { group: Args.string({ required: true, description: 'group path' }) };
  static override flags = { pool: Flags.string({ summary: 'The pool.', required: true }) };

  async run(): Promise<{ group: string; pool: string; deleted: true }> {
    const result = await (await this.session()).call('guarantees.delete', { query: { group: this.args.group, pool: this.flags.pool } });
    this.log(`Took the guarantee of group ${result.group} in pool ${result.pool}.`);
    return result;
  }
}
