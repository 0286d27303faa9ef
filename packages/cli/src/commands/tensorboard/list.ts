import { TaskListCommand } from '../../lib/task-commands.js';

export default class TensorboardList extends TaskListCommand {
  static override kind = 'tensorboard' as const;
  static override summary = 'List your tensorboards; -a lists every user\'s.';
  static override examples = ['<%= config.bin %> tensorboard list', '<%= config.bin %> tensorboard list -a --limit 20', '<%= config.bin %> tensorboard list --json', '<%= config.bin %> tensorboard list --state RUNNING -o name'];
}
