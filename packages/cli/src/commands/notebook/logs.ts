import { TaskLogsCommand } from '../../lib/task-commands.js';

export default class NotebookLogs extends TaskLogsCommand {
  static override summary = 'Print the logs of a notebook; -f follows until it ends (owner or admin).';
  static override examples = ['<%= config.bin %> notebook logs 7', '<%= config.bin %> notebook logs 7 -f', '<%= config.bin %> notebook logs 7 --tail 100 --since 10m --timestamps'];
}
