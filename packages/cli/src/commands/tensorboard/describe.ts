import { TaskDescribeCommand } from '../../lib/task-commands.js';

export default class TensorboardDescribe extends TaskDescribeCommand {
  static override summary = 'Show a tensorboard: state, run-as identity, config (owner or admin).';
  static override examples = ['<%= config.bin %> tensorboard describe 9', '<%= config.bin %> tensorboard describe 9 --json'];
}
