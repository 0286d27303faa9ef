import { TaskKillCommand } from '../../lib/task-commands.js';

export default class NotebookKill extends TaskKillCommand {
  static override summary = 'Kill one or more notebooks (owner, or operate_others).';
  static override examples = ['<%= config.bin %> notebook kill 7', '<%= config.bin %> notebook kill 7 8 9'];
}
