import { Flags } from '@oclif/core';
import type { ApiTokenInfo, Page } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { tokensTable } from '../../lib/access-format.js';

export default class TokenList extends YardCommand<typeof TokenList> {
  static override summary = 'List your personal API tokens (never the tokens themselves); --user for someone else\'s (change_config).';
  static override examples = ['<%= config.bin %> token list', '<%= config.bin %> -u admin token list --user alice'];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override flags = { user: Flags.string({ summary: "Whose tokens (change_config for someone else's)." }) };

  async run(): Promise<Page<ApiTokenInfo>> {
    const page = await (await this.session()).call('tokens.list', { query: { user: this.flags.user } });
    this.log(page.items.length ? tokensTable(page.items) : 'No API tokens.');
    return page;
  }
}
