import { TaskListCommand } from '../../lib/task-commands.js';

export default class ExperimentList extends TaskListCommand {
  static override kind = 'experiment' as const;
  static override summary = 'List your experiments; -a lists every user\'s.';
  static override examples = ['<%= config.bin %> experiment list', '<%= config.bin %> experiment list -a --limit 20', '<%= config.bin %> experiment list --json', '<%= config.bin %> experiment list --since 1d --name "mnist*"'];
}
