import { TaskLogsCommand } from '../../lib/task-commands.js';

export default class TensorboardLogs extends TaskLogsCommand {
  static override summary = 'Print the logs of a tensorboard; -f follows until it ends (owner or admin).';
  static override examples = ['<%= config.bin %> tensorboard logs 9', '<%= config.bin %> tensorboard logs 9 -f', '<%= config.bin %> tensorboard logs 9 --tail 100 --since 10m --timestamps'];
}
