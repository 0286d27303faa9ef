import { TaskLogsCommand } from '../../lib/task-commands.js';

export default class ExperimentLogs extends TaskLogsCommand {
  static override summary = 'Print the logs of an experiment; -f follows until it ends (owner or admin).';
  static override examples = ['<%= config.bin %> experiment logs 12', '<%= config.bin %> experiment logs 12 -f', '<%= config.bin %> experiment logs 12 --tail 100 --since 10m --timestamps'];
}
