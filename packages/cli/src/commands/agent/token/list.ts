import type { AgentTokenInfo, Page } from '@trainyard/shared';
import { YardCommand } from '../../../base-command.js';
import { agentTokensView } from '../../../lib/agent-format.js';
import { outputFlags } from '../../../lib/output.js';

export default class AgentTokenList extends YardCommand<typeof AgentTokenList> {
  static override summary = 'List agent tokens (admins only): never the tokens themselves.';
  static override examples = ['<%= config.bin %> -u admin agent token list', '<%= config.bin %> -u admin agent token list -o csv'];
  static override flags = outputFlags;

  async run(): Promise<Page<AgentTokenInfo>> {
    const page = await (await this.session()).call('agentTokens.list');
    await this.print({ data: page, items: page.items, view: agentTokensView });
    return page;
  }
}
