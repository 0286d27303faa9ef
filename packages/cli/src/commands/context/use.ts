import { Args, Flags } from '@oclif/core';
import { CommandFailure, DEFAULT_MASTER, YardCommand } from '../../base-command.js';
import { EXIT } from '../../lib/exit-status.js';

export default class ContextUse extends YardCommand<typeof ContextUse> {
  static override summary = 'Make a context current: commands talk to its master unless -m or YARD_MASTER says otherwise.';
  static override examples = ['<%= config.bin %> context use prod', '<%= config.bin %> context use --none'];
  static override args = { name: Args.string({ description: 'the context (`yard context list`)' }) };
  static override flags = {
    none: Flags.boolean({ summary: `No current context: back to ${DEFAULT_MASTER} (or YARD_MASTER).`, default: false }),
  };

  async run(): Promise<{ current: string | null; master: string }> {
    const { name } = this.args;
    if (this.flags.none === (name !== undefined)) throw new CommandFailure('USAGE', 'give a context name or --none', EXIT.USAGE);
    if (name === undefined) {
      this.settings().useContext(undefined);
      this.log(`No current context: commands use -m, YARD_MASTER or ${DEFAULT_MASTER}.`);
      return { current: null, master: DEFAULT_MASTER };
    }
    const context = this.settings().contexts()[name];
    if (!context) {
      const names = Object.keys(this.settings().contexts());
      throw new CommandFailure('NO_SUCH_CONTEXT', `there is no context '${name}' (${names.length ? `there are: ${names.join(', ')}` : `none yet: \`${this.config.bin} context add NAME URL\``})`);
    }
    this.settings().useContext(name);
    this.log(`Using context ${name}: ${context.master}.`);
    if (process.env.YARD_MASTER) process.stderr.write(`Note: YARD_MASTER is set (${process.env.YARD_MASTER}) and wins over the current context.\n`);
    return { current: name, master: context.master };
  }
}
