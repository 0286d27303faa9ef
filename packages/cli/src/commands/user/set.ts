import { Args, Errors, Flags } from '@oclif/core';
import type { PatchUserRequest, User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { authFlag } from '../../lib/flags.js';

export default class UserSet extends YardCommand<typeof UserSet> {
  static override summary = "Change a user's settings (admins only).";
  static override description =
    'Only the settings given change. --auth moves the user to another place where their password is checked; ' +
    'their other sessions end. Moving to internal leaves them without a password until one is set with ' +
    '`yard user change-password NAME`. --default-group is the group their tasks are created in when they name ' +
    'none (they must be a direct member of it).';
  static override examples = [
    '<%= config.bin %> -u admin user set alice --auth ldap',
    '<%= config.bin %> -u admin user set bob --auth internal',
    '<%= config.bin %> -u admin user set alice --default-group research/vision',
  ];
  static override args = { name: Args.string({ required: true, description: 'user to change' }) };
  static override flags = {
    auth: authFlag(),
    'default-group': Flags.string({ summary: 'The group their tasks go to when they name none (a group they are a direct member of).' }),
    'no-default-group': Flags.boolean({ summary: 'Their tasks go to no group unless they name one.', exclusive: ['default-group'] }),
  };

  async run(): Promise<User> {
    // One entry per setting: a new flag adds a line here and a field in the API's PATCH body.
    const changes: PatchUserRequest = {
      ...(this.flags.auth === undefined ? {} : { auth: this.flags.auth }),
      ...(this.flags['default-group'] === undefined ? {} : { defaultGroup: this.flags['default-group'] }),
      ...(this.flags['no-default-group'] ? { defaultGroup: null } : {}),
    };
    if (Object.keys(changes).length === 0) {
      throw new Errors.CLIError('nothing to change: give a setting such as --auth or --default-group', { exit: 2 });
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
  if (changes.defaultGroup !== undefined) {
    lines.push(user.defaultGroup ? `${user.username}'s tasks go to ${user.defaultGroup} unless they name a group.` : `${user.username}'s tasks go to no group unless they name one.`);
  }
  return lines.join('\n');
}
