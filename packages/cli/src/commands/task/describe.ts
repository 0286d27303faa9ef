import { TaskDescribeCommand } from '../../lib/task-commands.js';

export default class TaskDescribe extends TaskDescribeCommand {
  static override summary = 'Show a task: state, run-as identity, config (owner or admin).';
  static override examples = ['<%= config.bin %> task describe 12', '<%= config.bin %> task describe 12 --json'];
}
