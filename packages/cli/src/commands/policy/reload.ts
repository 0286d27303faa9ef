import type { PolicyReload } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class PolicyReloadCommand extends YardCommand<typeof PolicyReloadCommand> {
  static override summary = "Re-read the admission policy from the master's master.yaml, without a restart (change_config).";
  static override description =
    'Only the policy section is read again (SIGHUP to the master does the same). An invalid policy keeps the one ' +
    'in force, and the error names the key. Other keys that changed need a restart: the answer names them. Tasks ' +
    'already created keep the run spec they were admitted with.';
  static override examples = ['<%= config.bin %> -u admin policy reload'];

  async run(): Promise<PolicyReload> {
    const result = await (await this.session()).call('policy.reload');
    const changed = result.changed.length > 0 ? `changed: ${result.changed.join(', ')}` : 'nothing changed';
    this.log(`Reloaded the policy from ${result.file}; ${changed}.`);
    if (result.restartNeeded.length > 0) {
      process.stderr.write(`These changes need a restart of the master: ${result.restartNeeded.join(', ')}\n`);
    }
    return result;
  }
}
