import { TaskDescribeCommand } from '../../lib/task-commands.js';

export default class CommandDescribe extends TaskDescribeCommand {
  static override summary = 'Show a command: state, run-as identity, config (owner or admin).';
  static override examples = ['<%= config.bin %> command describe 3', '<%= config.bin %> command describe 3 --json'];
}
