import { Args, Command } from '@oclif/core';
import { COMMAND_SHORT_FORMS, HOISTED_FLAGS, TOPIC_SHORT_FORMS } from '../argv.js';
import { completionModel, completionScript, SHELLS, type Shell } from '../lib/completion.js';

const SETUP: Record<Shell, string> = {
  bash: 'echo \'source <(yard autocomplete bash)\' >> ~/.bashrc',
  zsh: 'echo \'source <(yard autocomplete zsh)\' >> ~/.zshrc   # after compinit',
  fish: 'yard autocomplete fish > ~/.config/fish/completions/yard.fish',
};

export default class Autocomplete extends Command {
  static override summary = 'Print the shell completion script for bash, zsh or fish (topics, commands, flags, short forms).';
  static override description =
    'The script holds every command and flag: completing runs no yard process and needs no master. Print it again ' +
    'after upgrading yard. Without SHELL: how to set it up for the shell you use ($SHELL).\n\n' +
    Object.entries(SETUP)
      .map(([shell, line]) => `${shell}:  ${line}`)
      .join('\n');
  static override examples = [
    '<%= config.bin %> autocomplete bash > ~/.yard-completion.bash && echo \'source ~/.yard-completion.bash\' >> ~/.bashrc',
    '<%= config.bin %> autocomplete zsh > "${fpath[1]}/_<%= config.bin %>"',
    '<%= config.bin %> autocomplete fish > ~/.config/fish/completions/<%= config.bin %>.fish',
  ];
  static override args = { shell: Args.string({ options: [...SHELLS], description: 'bash, zsh or fish' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Autocomplete);
    const shell = args.shell as Shell | undefined;
    if (!shell) {
      const mine = SHELLS.find((s) => process.env.SHELL?.endsWith(`/${s}`)) ?? 'bash';
      this.log(`To complete ${this.config.bin} in ${mine}, run once:\n\n  ${SETUP[mine]}\n\nthen open a new shell. Other shells: ${this.config.bin} autocomplete --help`);
      return;
    }
    const model = completionModel(this.config, { topics: TOPIC_SHORT_FORMS, commands: COMMAND_SHORT_FORMS, hoisted: HOISTED_FLAGS });
    process.stdout.write(completionScript(shell, model));
  }
}
