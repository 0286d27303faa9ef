import { TaskKillCommand } from '../../lib/task-commands.js';

export default class ShellKill extends TaskKillCommand {
  static override summary = 'Kill one or more shells (owner, or operate_others).';
  static override examples = ['<%= config.bin %> shell kill 4', '<%= config.bin %> shell kill 4 5 6'];
}
