import { TaskKillCommand } from '../../lib/task-commands.js';

export default class TaskKill extends TaskKillCommand {
  static override summary = 'Kill one or more tasks (owner, or operate_others).';
  static override examples = ['<%= config.bin %> task kill 12', '<%= config.bin %> task kill 12 13 14'];
}
