import { TaskKillCommand } from '../../lib/task-commands.js';

export default class ShellKill extends TaskKillCommand {
  static override summary = 'Kill a shell (owner or admin).';
  static override examples = ['<%= config.bin %> shell kill 4'];
}
