import { TaskDescribeCommand } from '../../lib/task-commands.js';

export default class NotebookDescribe extends TaskDescribeCommand {
  static override summary = 'Show a notebook: state, run-as identity, config (owner or admin).';
  static override examples = ['<%= config.bin %> notebook describe 7', '<%= config.bin %> notebook describe 7 --json'];
}
