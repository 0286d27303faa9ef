import { TaskKillCommand } from '../../lib/task-commands.js';

export default class TensorboardKill extends TaskKillCommand {
  static override summary = 'Kill one or more tensorboards (owner, or operate_others).';
  static override examples = ['<%= config.bin %> tensorboard kill 9', '<%= config.bin %> tensorboard kill 9 10 11'];
}
