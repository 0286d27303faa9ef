import { EXIT_STATUS_HELP } from '../../lib/exit-status.js';
import { ServiceStartCommand } from '../../lib/service-commands.js';

export default class NotebookStart extends ServiceStartCommand {
  static override kind = 'notebook' as const;
  static override summary = 'Start a notebook on the cluster, wait until it answers, and print its URL.';
  static override description =
    'The URL goes through the master (/proxy/ID/): only you, holders of operate_others for you, and admins can open it. ' +
    'While it waits, why goes to stderr (queued: QUOTA_RUNNING_USER..., NO_AGENT_FITS..., pulling the image, waiting for the ' +
    'service), and again each time it changes.\n\n' +
    EXIT_STATUS_HELP;
  static override examples = ['<%= config.bin %> notebook start', '<%= config.bin %> notebook start --open --image jupyter/base-notebook:latest -c notebook.yaml'];
}
