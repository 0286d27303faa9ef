import { TaskListCommand } from '../../lib/task-commands.js';

export default class TaskList extends TaskListCommand {
  static override kind = undefined;
  static override summary = 'List your tasks of every kind; -a lists every user\'s.';
  static override examples = ['<%= config.bin %> task list', '<%= config.bin %> task list -a --limit 20', '<%= config.bin %> task list --json', '<%= config.bin %> task list -a --state RUNNING,QUEUED --owner alice -o csv'];
}
