import { TaskKillCommand } from '../../lib/task-commands.js';

export default class TensorboardKill extends TaskKillCommand {
  static override summary = 'Kill a tensorboard (owner or admin).';
  static override examples = ['<%= config.bin %> tensorboard kill 9'];
}
