import { TaskLogsCommand } from '../../lib/task-commands.js';

export default class CommandLogs extends TaskLogsCommand {
  static override summary = 'Print the logs of a command; -f follows until it ends (owner or admin).';
  static override examples = ['<%= config.bin %> command logs 3', '<%= config.bin %> command logs 3 -f', '<%= config.bin %> command logs 3 --tail 100 --since 10m --timestamps'];
}
