import { ServiceOpenCommand } from '../../lib/service-commands.js';

export default class NotebookOpen extends ServiceOpenCommand {
  static override summary = 'Print the URL of a running notebook (and open it in a browser on a terminal).';
  static override examples = ['<%= config.bin %> notebook open 12', '<%= config.bin %> notebook open 12 --no-browser'];
}
