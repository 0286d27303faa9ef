import { Args } from '@oclif/core';
import type { AgentTokenInfo } from '@trainyard/shared';
import { YardCommand } from '../../../base-command.js';

export default class AgentTokenRevoke extends YardCommand<typeof AgentTokenRevoke> {
  static override summary = 'Revoke an agent token (admins only): agents using it get nothing more.';
  static override examples = ['<%= config.bin %> -u admin agent token revoke gpu-rack-1'];
  static override args = { name: Args.string({ required: true, description: 'token name' }) };

  async run(): Promise<AgentTokenInfo> {
    const info = await (await this.session()).call('agentTokens.revoke', { params: { name: this.args.name } });
    this.log(`Revoked agent token '${info.name}'.`);
    return info;
  }
}
