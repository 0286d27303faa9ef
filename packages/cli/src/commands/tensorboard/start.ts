import { EXIT_STATUS_HELP } from '../../lib/exit-status.js';
import { ServiceStartCommand } from '../../lib/service-commands.js';

export default class TensorboardStart extends ServiceStartCommand {
  static override kind = 'tensorboard' as const;
  static override summary = 'Start a TensorBoard on one or more of your experiments, wait until it answers, and print its URL.';
  static override description =
    "It mounts each experiment's log directory read-only under /runs/<experiment id>. The URL goes through the master " +
    '(/proxy/ID/): only you, holders of operate_others for you, and admins can open it. While it waits, why goes to stderr, ' +
    'and again each time it changes.\n\n' +
    EXIT_STATUS_HELP;
  static override examples = ['<%= config.bin %> tensorboard start 12', '<%= config.bin %> tensorboard start 12 14 15 --open'];
  static override strict = false;

  protected override async kindConfig(): Promise<Record<string, unknown>> {
    const { argv } = await this.parse(TensorboardStart);
    const ids = argv.map(String);
    if (ids.length === 0) this.error('give at least one experiment id, e.g. yard tensorboard start 12', { exit: 2 });
    const bad = ids.find((id) => !/^[1-9]\d{0,15}$/.test(id));
    if (bad) this.error(`'${bad}' is not an experiment id`, { exit: 2 });
    return { experiment_ids: ids.map(Number) };
  }
}
