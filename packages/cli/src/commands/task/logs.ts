import { TaskLogsCommand } from '../../lib/task-commands.js';

export default class TaskLogs extends TaskLogsCommand {
  static override summary = 'Print the logs of a task; -f follows until it ends (owner or admin).';
  static override examples = ['<%= config.bin %> task logs 12', '<%= config.bin %> task logs 12 -f', '<%= config.bin %> task logs 12 --tail 100 --since 10m --timestamps'];
}
