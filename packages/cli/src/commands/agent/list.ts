import type { Agent, Page } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { agentsView } from '../../lib/agent-format.js';
import { outputFlags } from '../../lib/output.js';

export default class AgentList extends YardCommand<typeof AgentList> {
  static override summary = 'List agents: state (alive, lost, disabled), resources and the tasks they run.';
  static override examples = ['<%= config.bin %> agent list', '<%= config.bin %> agent list --json', '<%= config.bin %> agent list -o wide'];
  static override flags = outputFlags;

  async run(): Promise<Page<Agent>> {
    const page = await (await this.session()).call('agents.list');
    await this.print({ data: page, items: page.items, view: agentsView });
    return page;
  }
}
