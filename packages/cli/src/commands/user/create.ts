import { Args, Flags } from '@oclif/core';
import type { User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { passwordStdinFlag } from '../../lib/flags.js';
import { promptPassword, readStdinLine } from '../../lib/prompt.js';

export default class UserCreate extends YardCommand<typeof UserCreate> {
  static override summary = 'Create a user (admins only).';
  static override description =
    'The password is asked for twice on a terminal, read with --password-stdin, or left blank when there is ' +
    'no terminal (as PEDL does; the master may require a minimum length).';
  static override examples = [
    '<%= config.bin %> -u admin user create alice',
    '<%= config.bin %> -u admin user create bob --admin',
    'echo "$PASS" | <%= config.bin %> -u admin user create carol --password-stdin',
  ];
  static override args = { name: Args.string({ required: true, description: 'user name: a-z, 0-9, ".", "_", "-"' }) };
  static override flags = {
    admin: Flags.boolean({ summary: 'Make the user an admin.', default: false }),
    'password-stdin': passwordStdinFlag,
  };

  async run(): Promise<User> {
    const password = this.flags['password-stdin']
      ? await readStdinLine()
      : process.stdin.isTTY
        ? await promptPassword(`Password for ${this.args.name} (blank for none):`, { confirm: true })
        : '';
    const user = await (await this.session()).call('users.create', {
      body: { username: this.args.name, password, admin: this.flags.admin },
    });
    this.log(`Created user ${user.username}${user.admin ? ' (admin)' : ''}.`);
    return user;
  }
}
