import { TaskListCommand } from '../../lib/task-commands.js';

export default class ShellList extends TaskListCommand {
  static override kind = 'shell' as const;
  static override summary = 'List your shells; -a lists every user\'s.';
  static override examples = ['<%= config.bin %> shell list', '<%= config.bin %> shell list -a --limit 20', '<%= config.bin %> shell list --json', '<%= config.bin %> shell list --state RUNNING'];
}
