import type { AgentTokenInfo, Page } from '@trainyard/shared';
import { YardCommand } from '../../../base-command.js';
import { agentTokensTable } from '../../../lib/agent-format.js';

export default class AgentTokenList extends YardCommand<typeof AgentTokenList> {
  static override summary = 'List agent tokens (admins only): never the tokens themselves.';
  static override examples = ['<%= config.bin %> -u admin agent token list'];

  async run(): Promise<Page<AgentTokenInfo>> {
    const page = await (await this.session()).call('agentTokens.list');
    this.log(agentTokensTable(page.items));
    return page;
  }
}
