import { ServiceOpenCommand } from '../../lib/service-commands.js';

export default class TensorboardOpen extends ServiceOpenCommand {
  static override summary = 'Print the URL of a running tensorboard (and open it in a browser on a terminal).';
  static override examples = ['<%= config.bin %> tensorboard open 12', '<%= config.bin %> tensorboard open 12 --no-browser'];
}
