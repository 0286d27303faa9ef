import { Errors, Flags } from '@oclif/core';
import type { PolicyView } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { describePolicy, rulesView } from '../../lib/policy-format.js';
import { outputFlags } from '../../lib/output.js';

export default class PolicyShow extends YardCommand<typeof PolicyShow> {
  static override summary = 'Show the admission policy as it applies to you, a user or a group: every rule, its value and the layer it came from.';
  static override description =
    "Layers, least specific first: the system layer, the user's groups by priority, the user's own. A more specific " +
    'layer replaces what a less specific one set; a rule no layer sets has its default. Yourself by default; ' +
    "another user's needs change_config; --group shows what holds for a group's members (without user layers).";
  static override examples = [
    '<%= config.bin %> policy show',
    '<%= config.bin %> -u admin policy show --user alice',
    '<%= config.bin %> policy show --group research --json',
  ];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override flags = {
    ...outputFlags,
    user: Flags.string({ summary: "This user's policy (change_config unless it is you)." }),
    group: Flags.string({ char: 'g', summary: "What holds for this group's direct members (yours, or any with change_config)." }),
  };

  async run(): Promise<PolicyView> {
    const { user, group } = this.flags;
    if (user !== undefined && group !== undefined) throw new Errors.CLIError('give --user or --group, not both', { exit: 2 });
    const view = await (await this.session()).call('policy.show', { query: { user, group } });
    await this.print({ data: view, items: view.rules, view: rulesView, text: () => describePolicy(view) });
    return view;
  }
}
