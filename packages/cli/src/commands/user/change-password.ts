import { Args } from '@oclif/core';
import { YardCommand } from '../../base-command.js';
import { passwordStdinFlag } from '../../lib/flags.js';
import { promptPassword, readStdinLine } from '../../lib/prompt.js';

export default class UserChangePassword extends YardCommand<typeof UserChangePassword> {
  static override summary = "Change your password, or (admins) anyone's.";
  static override description =
    "The user's other sessions end at once; the session that made the change stays. The new password is asked " +
    'for twice on a terminal, or read with --password-stdin.';
  static override examples = [
    '<%= config.bin %> user change-password',
    '<%= config.bin %> -u admin user change-password',
    'echo "$NEW" | <%= config.bin %> -u admin user change-password alice --password-stdin',
  ];
  static override args = { name: Args.string({ description: 'whose password (yourself when left out)', ignoreStdin: true }) };
  static override flags = { 'password-stdin': passwordStdinFlag };

  async run(): Promise<{ username: string; changed: true }> {
    const session = await this.session();
    const username = this.args.name?.trim().toLowerCase() ?? (await session.call('me')).user.username;
    const password = this.flags['password-stdin']
      ? await readStdinLine()
      : await promptPassword(`New password for ${username}:`, { confirm: true });
    await session.call('users.setPassword', { params: { username }, body: { password } });
    this.log(`Changed the password of ${username}; their other sessions have ended.`);
    return { username, changed: true };
  }
}
