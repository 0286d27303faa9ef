import { Args, Flags } from '@oclif/core';
import type { Page, SessionListItem } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { sessionsView } from '../../lib/access-format.js';
import { outputFlags } from '../../lib/output.js';

export default class UserSessions extends YardCommand<typeof UserSessions> {
  static override summary = "List live sessions (yours, or NAME's with change_config); --revoke ID ends one.";
  static override description =
    'Shows when each was created and last used, its kind (login, temporary for -u) and client. The session this ' +
    'command uses is marked with *. Ending your own needs nothing; anyone else\'s needs change_config.';
  static override examples = [
    '<%= config.bin %> user sessions',
    '<%= config.bin %> user sessions --revoke 42',
    '<%= config.bin %> -u admin user sessions alice',
    '<%= config.bin %> user sessions -o wide',
  ];
  static override args = { name: Args.string({ description: 'whose sessions (yourself when left out)' }) };
  static override flags = {
    ...outputFlags, revoke: Flags.integer({ summary: 'End the session with this ID.', min: 1 }) };

  async run(): Promise<Page<SessionListItem> | { revoked: number }> {
    const session = await this.session();
    if (this.flags.revoke !== undefined) {
      await session.call('sessions.revoke', { params: { id: this.flags.revoke } });
      this.log(`Ended session ${this.flags.revoke}.`);
      return { revoked: this.flags.revoke };
    }
    const page = await session.call('sessions.list', { query: { user: this.args.name?.trim().toLowerCase() } });
    await this.print({ data: page, items: page.items, view: sessionsView, ...(page.items.length ? {} : { text: () => 'No live sessions.' }) });
    return page;
  }
}
