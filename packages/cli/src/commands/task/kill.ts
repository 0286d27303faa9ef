import { TaskKillCommand } from '../../lib/task-commands.js';

export default class TaskKill extends TaskKillCommand {
  static override summary = 'Kill a task (owner or admin).';
  static override examples = ['<%= config.bin %> task kill 12'];
}
