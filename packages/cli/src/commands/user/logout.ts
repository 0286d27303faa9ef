import { YardCommand } from '../../base-command.js';
import { resolveIdentity } from '../../lib/session.js';

export default class UserLogout extends YardCommand<typeof UserLogout> {
  static override summary = 'End the session of the logged-in user, or with -u the kept token of that user.';
  static override description =
    'Ends the session on the master and forgets its token. Afterwards commands act as the default account. ' +
    '`yard -u NAME user logout` discards only the token kept for `-u NAME`.';
  static override examples = ['<%= config.bin %> user logout', '<%= config.bin %> -u admin user logout'];

  async run(): Promise<{ loggedOut: string | null }> {
    const identity = resolveIdentity(this.master, this.settings(), this.flags.user);
    const store = await this.tokenStore();
    const token = await store.get(identity.slot);
    if (token) {
      // A token the master already ended is fine: the goal is that it works nowhere.
      await this.anonymousClient().withToken(token).post('/auth/logout').catch(() => undefined);
      await store.delete(identity.slot);
    }
    if (identity.source === 'active') this.settings().setActiveUser(this.master, undefined);
    const loggedOut = token || identity.source === 'active' ? identity.user : null;
    this.log(loggedOut ? `Logged out ${loggedOut}.` : 'Nobody was logged in.');
    return { loggedOut };
  }
}
