import { Args } from '@oclif/core';
import type { LoginResponse } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { passwordStdinFlag } from '../../lib/flags.js';
import { loginPassword, promptLine, readStdinLine } from '../../lib/prompt.js';
import { loginRequest } from '../../lib/session.js';

export default class UserLogin extends YardCommand<typeof UserLogin> {
  static override summary = 'Log in to the master; the session lasts 30 days (security.session_ttl).';
  static override description =
    'Becomes the active user for this master until `yard user logout`. Reads the password with echo off, ' +
    'from YARD_PASSWORD, or from stdin with --password-stdin.';
  static override examples = [
    '<%= config.bin %> user login alice',
    'echo "$PASS" | <%= config.bin %> user login alice --password-stdin',
  ];
  static override args = { name: Args.string({ description: 'user to log in as (asked when left out)', ignoreStdin: true }) };
  static override flags = { 'password-stdin': passwordStdinFlag };

  async run(): Promise<Omit<LoginResponse, 'token'>> {
    const name = (this.args.name ?? (await promptLine('Username:'))).trim().toLowerCase();
    const password = this.flags['password-stdin'] ? await readStdinLine() : await loginPassword(name);
    const response = await loginRequest(this.anonymousClient(), name, password, 'login');

    const settings = this.settings();
    const store = await this.tokenStore();
    const previous = settings.activeUser(this.master);
    if (previous) await this.endPrevious(previous);
    await store.set({ master: this.master, user: response.user.username, kind: 'login' }, response.token);
    settings.setActiveUser(this.master, response.user.username);

    this.log(`Logged in as ${response.user.username} (session until ${response.session.expiresAt}).`);
    return { user: response.user, session: response.session };
  }

  /** Switching users ends the old session on the master too, rather than leaving it to expire. */
  private async endPrevious(user: string): Promise<void> {
    const store = await this.tokenStore();
    const slot = { master: this.master, user, kind: 'login' as const };
    const token = await store.get(slot);
    if (token) await this.anonymousClient().withToken(token).call('auth.logout', { body: {} }).catch(() => undefined);
    await store.delete(slot);
  }
}
