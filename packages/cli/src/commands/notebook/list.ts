import { TaskListCommand } from '../../lib/task-commands.js';

export default class NotebookList extends TaskListCommand {
  static override kind = 'notebook' as const;
  static override summary = 'List your notebooks; -a lists every user\'s.';
  static override examples = ['<%= config.bin %> notebook list', '<%= config.bin %> notebook list -a --limit 20', '<%= config.bin %> notebook list --json', '<%= config.bin %> notebook list -a --group research --state RUNNING'];
}
