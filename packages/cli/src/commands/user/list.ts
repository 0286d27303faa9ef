import type { Page, User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { usersTable } from '../../lib/format.js';

export default class UserList extends YardCommand<typeof UserList> {
  static override summary = 'List users: name, admin, active, and the agent user their tasks run as.';
  static override examples = ['<%= config.bin %> user list', '<%= config.bin %> user list --json'];

  async run(): Promise<Page<User>> {
    const session = await this.session();
    const items: User[] = [];
    let after: string | null = null;
    do {
      const page: Page<User> = await session.call('users.list', { query: { limit: 500, ...(after ? { after } : {}) } });
      items.push(...page.items);
      after = page.next;
    } while (after);
    this.log(usersTable(items));
    return { items, next: null };
  }
}
