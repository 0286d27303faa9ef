import { Args, Flags } from '@oclif/core';
import { CommandFailure, normalizeMaster, warnIfPlainHttp, YardCommand } from '../../base-command.js';
import { CONTEXT_NAME } from '../../lib/context-format.js';
import { EXIT } from '../../lib/exit-status.js';

export default class ContextAdd extends YardCommand<typeof ContextAdd> {
  static override summary = 'Name a master (kubectl-like): yard context use NAME then makes commands talk to it.';
  static override description =
    'A context is a name for a master URL, kept in the settings file of your config dir. Adding one that exists points ' +
    'it at the new URL. Logins stay per master: log in once on each (`yard user login` while it is current). ' +
    '-m and YARD_MASTER still win over the current context.';
  static override examples = [
    '<%= config.bin %> context add prod https://yard.example.org',
    '<%= config.bin %> context add lab http://10.0.0.5:8080 --use',
  ];
  static override args = {
    name: Args.string({ required: true, description: 'a name: letters, digits, ".", "_" and "-"' }),
    url: Args.string({ required: true, description: "the master's URL (http:// or https://)" }),
  };
  static override flags = { use: Flags.boolean({ summary: 'Make it the current context too.', default: false }) };

  async run(): Promise<{ name: string; master: string; current: boolean }> {
    const { name } = this.args;
    if (!CONTEXT_NAME.test(name)) throw new CommandFailure('INVALID_INPUT', `'${name}' is not a context name: letters, digits, ".", "_" and "-", at most 64`, EXIT.USAGE);
    const master = normalizeMaster(this.args.url);
    warnIfPlainHttp(master, (message) => process.stderr.write(`Warning: ${message}\n`));
    const existed = name in this.settings().contexts();
    this.settings().setContext(name, { master });
    if (this.flags.use) this.settings().useContext(name);
    this.log(`${existed ? 'Context' : 'Added context'} ${name}: ${master}${this.flags.use ? '; it is the current context now' : ` (\`${this.config.bin} context use ${name}\` makes it current)`}.`);
    return { name, master, current: this.flags.use || this.settings().currentContext()?.name === name };
  }
}
