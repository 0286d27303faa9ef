import { Flags } from '@oclif/core';
import type { ApiTokenInfo, Page } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { tokensView } from '../../lib/access-format.js';
import { outputFlags } from '../../lib/output.js';

export default class TokenList extends YardCommand<typeof TokenList> {
  static override summary = 'List your personal API tokens (never the tokens themselves); --user for someone else\'s (change_config).';
  static override examples = ['<%= config.bin %> token list', '<%= config.bin %> -u admin token list --user alice', '<%= config.bin %> token list -o name'];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override flags = {
    ...outputFlags, user: Flags.string({ summary: "Whose tokens (change_config for someone else's)." }) };

  async run(): Promise<Page<ApiTokenInfo>> {
    const page = await (await this.session()).call('tokens.list', { query: { user: this.flags.user } });
    await this.print({ data: page, items: page.items, view: tokensView, ...(page.items.length ? {} : { text: () => 'No API tokens.' }) });
    return page;
  }
}
