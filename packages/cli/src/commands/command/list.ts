import { TaskListCommand } from '../../lib/task-commands.js';

export default class CommandList extends TaskListCommand {
  static override kind = 'command' as const;
  static override summary = 'List your commands; -a lists every user\'s.';
  static override examples = ['<%= config.bin %> command list', '<%= config.bin %> command list -a --limit 20', '<%= config.bin %> command list --json', '<%= config.bin %> command list --state FAILED --since 12h'];
}
