import { Flags } from '@oclif/core';
import type { Page, User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { usersView } from '../../lib/format.js';
import { outputFlags } from '../../lib/output.js';

export default class UserList extends YardCommand<typeof UserList> {
  static override summary = 'List active users: name, admin, and the agent user their tasks run as; --all lists deactivated ones too.';
  static override examples = ['<%= config.bin %> user list', '<%= config.bin %> user list --all', '<%= config.bin %> user list -o csv --fields username,active,auth'];
  static override flags = {
    all: Flags.boolean({ char: 'a', summary: 'Deactivated users too (as `det user list --all`).', default: false }),
    ...outputFlags,
  };

  async run(): Promise<Page<User>> {
    const session = await this.session();
    const items: User[] = [];
    let after: string | null = null;
    do {
      const page: Page<User> = await session.call('users.list', { query: { limit: 500, ...(after ? { after } : {}) } });
      items.push(...page.items);
      after = page.next;
    } while (after);
    const page = { items: this.flags.all ? items : items.filter((u) => u.active), next: null };
    await this.print({ data: page, items: page.items, view: usersView });
    return page;
  }
}
