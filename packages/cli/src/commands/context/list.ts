import { YardCommand } from '../../base-command.js';
import { contextsView, type ContextRow } from '../../lib/context-format.js';
import { outputFlags } from '../../lib/output.js';

export default class ContextList extends YardCommand<typeof ContextList> {
  static override summary = 'List contexts: their masters, the current one (*), and who is logged in on each.';
  static override examples = ['<%= config.bin %> context list', '<%= config.bin %> context list -o name'];
  static override flags = outputFlags;

  async run(): Promise<{ items: ContextRow[] }> {
    const settings = this.settings();
    const current = settings.currentContext()?.name;
    const items = Object.entries(settings.contexts())
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, context]) => ({ name, master: context.master, current: name === current, user: settings.activeUser(context.master) ?? null }));
    const page = { items };
    await this.print({
      data: page,
      items,
      view: contextsView,
      ...(items.length ? {} : { text: () => `No contexts: \`${this.config.bin} context add NAME URL\` names a master.` }),
    });
    return page;
  }
}
