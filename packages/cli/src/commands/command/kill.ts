import { TaskKillCommand } from '../../lib/task-commands.js';

export default class CommandKill extends TaskKillCommand {
  static override summary = 'Kill one or more commands (owner, or operate_others).';
  static override examples = ['<%= config.bin %> command kill 3', '<%= config.bin %> command kill 3 4 5'];
}
