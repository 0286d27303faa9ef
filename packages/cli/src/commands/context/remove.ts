import { Args } from '@oclif/core';
import { CommandFailure, YardCommand } from '../../base-command.js';

export default class ContextRemove extends YardCommand<typeof ContextRemove> {
  static override summary = 'Forget a context (the login kept for its master stays: `yard user logout` ends it).';
  static override examples = ['<%= config.bin %> context remove lab'];
  static override args = { name: Args.string({ required: true, description: 'the context' }) };

  async run(): Promise<{ removed: string; wasCurrent: boolean }> {
    const { name } = this.args;
    const wasCurrent = this.settings().currentContext()?.name === name;
    if (!this.settings().removeContext(name)) throw new CommandFailure('NO_SUCH_CONTEXT', `there is no context '${name}'`);
    this.log(`Removed context ${name}${wasCurrent ? '; there is no current context now' : ''}.`);
    return { removed: name, wasCurrent };
  }
}
