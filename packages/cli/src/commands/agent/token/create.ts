import { Args } from '@oclif/core';
import type { CreatedAgentToken } from '@trainyard/shared';
import { YardCommand } from '../../../base-command.js';

export default class AgentTokenCreate extends YardCommand<typeof AgentTokenCreate> {
  static override summary = 'Create an agent token (admins only); it is shown once.';
  static override description = 'Put it in a file only root can read on the agent machine and start `yard-agent --token-file FILE`.';
  static override examples = ['<%= config.bin %> -u admin agent token create gpu-rack-1 > agent.token'];
  static override args = { name: Args.string({ required: true, description: 'a name to revoke it by' }) };

  async run(): Promise<CreatedAgentToken> {
    const created = await (await this.session()).call('agentTokens.create', { body: { name: this.args.name } });
    // The token alone on stdout, so that `> file` captures just it.
    this.log(created.token);
    process.stderr.write(`Created agent token '${created.name}'. Keep it secret; the master stores only its hash.\n`);
    return created;
  }
}
