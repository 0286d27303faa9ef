import { CommandFailure, YardCommand } from '../../base-command.js';
import type { Context } from '../../lib/settings.js';

export default class ContextCurrent extends YardCommand<typeof ContextCurrent> {
  static override summary = 'Print the current context and its master; exit 1 when there is none.';
  static override examples = ['<%= config.bin %> context current', '<%= config.bin %> context current --json'];

  async run(): Promise<{ name: string } & Context> {
    const current = this.settings().currentContext();
    if (!current) throw new CommandFailure('NO_CONTEXT', `there is no current context (\`${this.config.bin} context use NAME\`)`);
    this.log(`${current.name} (${current.master})`);
    return current;
  }
}
