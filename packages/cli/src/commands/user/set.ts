import { Args, Errors } from '@oclif/core';
import type { PatchUserRequest, User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { authFlag } from '../../lib/flags.js';

export default class UserSet extends YardCommand<typeof UserSet> {
  static override summary = "Change a user's settings (admins only).";
  static override description =
    'Only the settings given change. --auth moves the user to another place where their password is checked; ' +
    'their other sessions end. Moving to internal leaves them without a password until one is set with ' +
    '`yard user change-password NAME`.';
  static override examples = [
    '<%= config.bin %> -u admin user set alice --auth ldap',
    '<%= config.bin %> -u admin user set bob --auth internal',
  ];
  static override args = { name: Args.string({ required: true, description: 'user to change' }) };
  static override flags = {
    auth: authFlag(),
  };

  async run(): Promise<User> {
    // One entry per setting: a new flag adds a line here and a field in the API's PATCH body.
    const changes: PatchUserRequest = {
      ...(this.flags.auth === undefined ? {} : { auth: this.flags.auth }),
    };
    if (Object.keys(changes).length === 0) {
      throw new Errors.CLIError('nothing to change: give a setting such as --auth', { exit: 2 });
    }
    const user = await (await this.session()).call('users.update', { params: { username: this.args.name }, body: changes });
    this.log(describe(user, changes));
    return user;
  }
}

function describe(user: User, changes: PatchUserRequest): string {
  const lines = [`Updated ${user.username}.`];
  if (changes.auth === 'internal') {
    lines.push(`${user.username} now signs in with a Trainyard password: set one with \`yard user change-password ${user.username}\`.`);
  } else if (changes.auth) {
    lines.push(`${user.username} now signs in through ${user.auth}.`);
  }
  return lines.join('\n');
}
