import { TaskDescribeCommand } from '../../lib/task-commands.js';

export default class ShellDescribe extends TaskDescribeCommand {
  static override summary = 'Show a shell: state, run-as identity, config (owner or admin).';
  static override examples = ['<%= config.bin %> shell describe 4', '<%= config.bin %> shell describe 4 --json'];
}
