import { Flags } from '@oclif/core';
import type { AuditEntry, Page } from '@trainyard/shared';
import { targetUserBaseFlags, YardCommand } from '../../base-command.js';
import { auditView } from '../../lib/access-format.js';
import { outputFlags } from '../../lib/output.js';

export default class AuditList extends YardCommand<typeof AuditList> {
  static override summary = 'Show the audit log, newest first: who changed users, groups, roles, links and tokens, and who killed tasks (change_config).';
  static override examples = [
    '<%= config.bin %> -u admin audit list --since 1d',
    '<%= config.bin %> -u admin audit list --user carol --json',
    '<%= config.bin %> -u admin audit list --since 1h -o yaml',
  ];
  static override targetsUser = true;
  static override baseFlags = targetUserBaseFlags;
  static override flags = {
    ...outputFlags,
    user: Flags.string({ summary: 'Only changes made by this user, or made to them.' }),
    since: Flags.string({ summary: 'Only the last while, such as 1d, 12h or 30m.' }),
    limit: Flags.integer({ summary: 'Show at most this many.', default: 50, min: 1, max: 500 }),
    after: Flags.string({ summary: 'Continue after this cursor (the `next` of a previous --json page).' }),
  };

  async run(): Promise<Page<AuditEntry>> {
    const { limit, user, since, after } = this.flags;
    const page = await (await this.session()).call('audit.list', { query: { limit, user, since, after } });
    await this.print({ data: page, items: page.items, view: auditView, ...(page.items.length ? {} : { text: () => 'Nothing in the audit log matches.' }) });
    if (page.next && this.forPeople) {
      process.stderr.write(`(showing the newest ${page.items.length}; more with --limit, or --after ${page.next})\n`);
    }
    return page;
  }
}
