import { TaskKillCommand } from '../../lib/task-commands.js';

export default class ExperimentKill extends TaskKillCommand {
  static override summary = 'Kill one or more experiments (owner, or operate_others).';
  static override examples = ['<%= config.bin %> experiment kill 12', '<%= config.bin %> experiment kill 12 13 14'];
}
