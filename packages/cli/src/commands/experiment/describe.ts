import { TaskDescribeCommand } from '../../lib/task-commands.js';

export default class ExperimentDescribe extends TaskDescribeCommand {
  static override summary = 'Show an experiment: state, run-as identity, config (owner or admin).';
  static override examples = ['<%= config.bin %> experiment describe 12', '<%= config.bin %> experiment describe 12 --json'];
}
