import { Args, Flags } from '@oclif/core';
import type { User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { authFlag, passwordStdinFlag } from '../../lib/flags.js';
import { promptPassword, readStdinLine } from '../../lib/prompt.js';

export default class UserCreate extends YardCommand<typeof UserCreate> {
  static override summary = 'Create a user (admins only).';
  static override description =
    'The password is asked for twice on a terminal, read with --password-stdin, or left blank when there is ' +
    'no terminal (as PEDL does; the master may require a minimum length). Users with --auth ldap, pam or file ' +
    'have no Trainyard password: the directory, PAM or the password file checks it.';
  static override examples = [
    '<%= config.bin %> -u admin user create alice',
    '<%= config.bin %> -u admin user create bob --admin',
    'echo "$PASS" | <%= config.bin %> -u admin user create carol --password-stdin',
    '<%= config.bin %> -u admin user create dana --auth ldap',
  ];
  static override args = { name: Args.string({ required: true, description: 'user name: a-z, 0-9, ".", "_", "-"' }) };
  static override flags = {
    admin: Flags.boolean({ summary: 'Make the user an admin.', default: false }),
    'password-stdin': passwordStdinFlag,
    auth: authFlag({ default: 'internal' }),
  };

  async run(): Promise<User> {
    const { auth } = this.flags;
    const user = await (await this.session()).call('users.create', {
      body: {
        username: this.args.name,
        ...(auth === 'internal' || this.flags['password-stdin'] ? { password: await this.password() } : {}),
        admin: this.flags.admin,
        auth,
      },
    });
    const notes = [user.admin ? 'admin' : '', user.auth === 'internal' ? '' : `signs in through ${user.auth}`].filter(Boolean);
    this.log(`Created user ${user.username}${notes.length ? ` (${notes.join(', ')})` : ''}.`);
    return user;
  }

  private async password(): Promise<string> {
    if (this.flags['password-stdin']) return readStdinLine();
    return process.stdin.isTTY ? promptPassword(`Password for ${this.args.name} (blank for none):`, { confirm: true }) : '';
  }
}
