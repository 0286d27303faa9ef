import { TaskKillCommand } from '../../lib/task-commands.js';

export default class NotebookKill extends TaskKillCommand {
  static override summary = 'Kill a notebook (owner or admin).';
  static override examples = ['<%= config.bin %> notebook kill 7'];
}
