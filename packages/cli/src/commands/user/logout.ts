import { Flags } from '@oclif/core';
import { ApiError, TransportError } from '@trainyard/shared/client';
import { CommandFailure, transportReason, YardCommand } from '../../base-command.js';
import { resolveIdentity } from '../../lib/session.js';

export default class UserLogout extends YardCommand<typeof UserLogout> {
  static override summary = 'End the session of the logged-in user, or with -u the kept token of that user.';
  static override description =
    'Ends the session on the master and forgets its token. Afterwards commands act as the default account. ' +
    '`yard -u NAME user logout` discards only the token kept for `-u NAME` (for the logged-in user, -u is that login: it ends). When the master cannot be told ' +
    '(it is down or unreachable), the token is still forgotten here, and the command says so and fails: ' +
    'the session then stays valid on the master until it expires. With --all, every session of ' +
    'yours ends, on every machine and browser (API tokens stay: revoke those with `yard token revoke`).';
  static override examples = [
    '<%= config.bin %> user logout',
    '<%= config.bin %> -u admin user logout',
    '<%= config.bin %> user logout --all',
  ];
  static override flags = {
    all: Flags.boolean({ summary: 'End every session of yours, not only this one.', default: false }),
  };

  async run(): Promise<{ loggedOut: string | null; all: boolean }> {
    if (this.flags.all) {
      // Whoever this command acts as (YARD_TOKEN included) ends all of their sessions on the master.
      const session = await this.session();
      const me = await session.call('me');
      await session.call('auth.logout', { body: { all: true } });
      await this.forgetLocalToken(false);
      this.log(`Ended every session of ${me.user.username}.`);
      return { loggedOut: me.user.username, all: true };
    }
    const loggedOut = await this.forgetLocalToken(true);
    this.log(loggedOut ? `Logged out ${loggedOut}.` : 'Nobody was logged in.');
    return { loggedOut, all: false };
  }

  /**
   * Ends (optionally) and forgets the token kept for this identity; YARD_TOKEN is never touched.
   * When the master could not be told, the token is forgotten all the same and the command fails
   * saying that the session stays valid there.
   */
  private async forgetLocalToken(endOnMaster: boolean): Promise<string | null> {
    const identity = resolveIdentity(this.master, this.settings(), this.actAs, '');
    if (identity.source === 'api_token') return null;
    const store = await this.tokenStore();
    const token = await store.get(identity.slot);
    let untold: { code: string; reason: string } | undefined;
    if (token) {
      if (endOnMaster) {
        try {
          await this.anonymousClient().withToken(token).call('auth.logout', { body: {} });
        } catch (error) {
          // A token the master already ended (401) is fine: the goal is that it works nowhere.
          if (error instanceof ApiError) {
            if (error.status !== 401) untold = { code: error.code, reason: error.message };
          } else if (error instanceof TransportError) {
            untold = { code: error.kind === 'unreachable' ? 'UNREACHABLE' : 'BAD_RESPONSE', reason: transportReason(error) };
          } else {
            throw error;
          }
        }
      }
      await store.delete(identity.slot);
    }
    if (identity.source === 'active') {
      this.settings().setActiveUser(this.master, undefined);
      // A `-u NAME` token kept from before NAME logged in goes too: nothing of theirs is left here.
      await store.delete({ ...identity.slot, kind: 'temporary' });
    }
    const loggedOut = token || identity.source === 'active' ? identity.user : null;
    if (untold) {
      throw new CommandFailure(
        untold.code,
        `logged out here only: the master at ${this.master} could not be told (${untold.reason}), ` +
          `so ${identity.user}'s session stays valid on the master until it expires`,
      );
    }
    return loggedOut;
  }
}
