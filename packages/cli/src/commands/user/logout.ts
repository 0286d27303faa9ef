import { YardCommand } from '../../base-command.js';
import { ApiError } from '../../lib/api-client.js';
import { resolveIdentity } from '../../lib/session.js';

export default class UserLogout extends YardCommand<typeof UserLogout> {
  static override summary = 'End the session of the logged-in user, or with -u the kept token of that user.';
  static override description =
    'Ends the session on the master and forgets its token. Afterwards commands act as the default account. ' +
    '`yard -u NAME user logout` discards only the token kept for `-u NAME`. When the master cannot be told ' +
    '(it is down or unreachable), the token is still forgotten here, and the command says so and fails: ' +
    'the session then stays valid on the master until it expires.';
  static override examples = ['<%= config.bin %> user logout', '<%= config.bin %> -u admin user logout'];

  async run(): Promise<{ loggedOut: string | null }> {
    const identity = resolveIdentity(this.master, this.settings(), this.flags.user);
    const store = await this.tokenStore();
    const token = await store.get(identity.slot);
    let untold: ApiError | undefined;
    if (token) {
      try {
        await this.anonymousClient().withToken(token).post('/auth/logout');
      } catch (error) {
        // A token the master already ended (401) is fine: the goal is that it works nowhere.
        if (!(error instanceof ApiError)) throw error;
        if (error.status !== 401) untold = error;
      }
      await store.delete(identity.slot);
    }
    if (identity.source === 'active') this.settings().setActiveUser(this.master, undefined);
    const loggedOut = token || identity.source === 'active' ? identity.user : null;
    if (untold) {
      throw new ApiError(
        untold.status,
        untold.code,
        `logged out here only: the master at ${this.master} could not be told (${untold.reason ?? untold.message}), ` +
          `so ${identity.user}'s session stays valid on the master until it expires`,
      );
    }
    this.log(loggedOut ? `Logged out ${loggedOut}.` : 'Nobody was logged in.');
    return { loggedOut };
  }
}
