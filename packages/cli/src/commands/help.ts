import { Args, Command, Flags, loadHelpClass } from '@oclif/core';
import { errorLine } from '../lib/colour.js';
import { escapeText } from '../lib/escape.js';
import { EXIT } from '../lib/exit-status.js';
import { describeUnknownCommand } from '../lib/unknown-command.js';

export default class HelpCommand extends Command {
  static override summary = 'Show help for yard, a topic (`yard help user`) or a command (`yard help user list`).';
  static override description = 'Short forms work here too: `yard help e ls` is the help of `yard experiment list`.';
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help user', '<%= config.bin %> help experiment list', '<%= config.bin %> help e ls'];
  static override args = { command: Args.string({ required: false, description: 'a topic or command, in one or more words' }) };
  static override flags = { all: Flags.boolean({ summary: 'With no topic: every command, nested topics included.', default: false }) };
  static override strict = false;

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(HelpCommand);
    const words = (argv as string[]).filter((word) => !word.startsWith('-'));
    const id = words.join(':');
    if (words.length > 0 && !this.config.findCommand(id) && !this.config.findTopic(id)) {
      const { message, hint } = describeUnknownCommand(words, this.config);
      process.stderr.write(errorLine(escapeText(message), hint));
      this.exit(EXIT.USAGE);
    }
    const Help = await loadHelpClass(this.config);
    await new Help(this.config, { ...this.config.pjson.oclif.helpOptions, all: flags.all }).showHelp(words);
  }
}
