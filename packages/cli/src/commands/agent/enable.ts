import { Args } from '@oclif/core';
import type { Agent } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class AgentEnable extends YardCommand<typeof AgentEnable> {
  static override summary = 'Let an agent take new tasks again (admins only).';
  static override examples = ['<%= config.bin %> -u admin agent enable gpu-node-1'];
  static override args = { id: Args.string({ required: true, description: 'agent id' }) };

  async run(): Promise<Agent> {
    const agent = await (await this.session()).call('agents.update', { params: { id: this.args.id }, body: { enabled: true } });
    this.log(`Agent ${agent.id} is now ${agent.enabled ? 'enabled' : 'disabled'}.`);
    return agent;
  }
}
