import { Args, Flags } from '@oclif/core';
import type { User } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { formatIdentity } from '../../lib/format.js';
import { unixIdFlag } from '../../lib/flags.js';

export default class UserLinkWithAgentUser extends YardCommand<typeof UserLinkWithAgentUser> {
  static override summary = "Link a user to a Unix identity on the agents: their tasks run as it (admins only).";
  static override description =
    'Tasks created after the link run in containers as this uid:gid, so files they write in bind mounts belong ' +
    'to that person. Tasks already submitted keep the identity they were created with.';
  static override examples = [
    '<%= config.bin %> -u admin user link-with-agent-user alice --agent-uid 1234 --agent-user alice --agent-gid 1234 --agent-group alice',
  ];
  static override args = { name: Args.string({ required: true, description: 'Trainyard user to link' }) };
  static override flags = {
    'agent-uid': unixIdFlag({ required: true, summary: 'Unix uid on the agents.' }),
    'agent-user': Flags.string({ required: true, summary: 'Unix user name for that uid.' }),
    'agent-gid': unixIdFlag({ required: true, summary: 'Unix gid on the agents.' }),
    'agent-group': Flags.string({ required: true, summary: 'Unix group name for that gid.' }),
  };

  async run(): Promise<User> {
    const user = await (await this.session()).call('users.link', {
      params: { username: this.args.name },
      body: { uid: this.flags['agent-uid'], user: this.flags['agent-user'], gid: this.flags['agent-gid'], group: this.flags['agent-group'] },
    });
    this.log(`${user.username}'s tasks will run as ${formatIdentity(user.agentUser)}.`);
    return user;
  }
}
