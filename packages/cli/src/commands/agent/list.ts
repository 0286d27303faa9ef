import type { Agent, Page } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { agentsTable } from '../../lib/agent-format.js';

export default class AgentList extends YardCommand<typeof AgentList> {
  static override summary = 'List agents: state (alive, lost, disabled), resources and the tasks they run.';
  static override examples = ['<%= config.bin %> agent list', '<%= config.bin %> agent list --json'];

  async run(): Promise<Page<Agent>> {
    const page = await (await this.session()).call('agents.list');
    this.log(agentsTable(page.items));
    return page;
  }
}
