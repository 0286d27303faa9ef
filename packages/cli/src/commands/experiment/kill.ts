import { TaskKillCommand } from '../../lib/task-commands.js';

export default class ExperimentKill extends TaskKillCommand {
  static override summary = 'Kill an experiment (owner or admin).';
  static override examples = ['<%= config.bin %> experiment kill 12'];
}
