import { TaskLogsCommand } from '../../lib/task-commands.js';

export default class ShellLogs extends TaskLogsCommand {
  static override summary = 'Print the logs of a shell; -f follows until it ends (owner or admin).';
  static override examples = ['<%= config.bin %> shell logs 4', '<%= config.bin %> shell logs 4 -f', '<%= config.bin %> shell logs 4 --tail 100 --since 10m --timestamps'];
}
