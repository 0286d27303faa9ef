import { TaskKillCommand } from '../../lib/task-commands.js';

export default class CommandKill extends TaskKillCommand {
  static override summary = 'Kill a command (owner or admin).';
  static override examples = ['<%= config.bin %> command kill 3'];
}
