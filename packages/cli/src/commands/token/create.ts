import { Args, Flags } from '@oclif/core';
import type { CreatedApiToken } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';

export default class TokenCreate extends YardCommand<typeof TokenCreate> {
  static override summary = 'Create a personal API token for scripts (needs access_api); it is shown once.';
  static override description =
    'Scripts use it as YARD_TOKEN (the CLI) or as "Authorization: Bearer TOKEN" (the API). It acts as you, and stops ' +
    'working when revoked, when it expires, when you are deactivated, or when you no longer hold access_api.';
  static override examples = [
    '<%= config.bin %> token create ci --expires 90d > ci.token',
    'YARD_TOKEN=$(cat ci.token) <%= config.bin %> experiment list',
  ];
  static override args = { name: Args.string({ required: true, description: 'a name to list and revoke it by' }) };
  static override flags = {
    expires: Flags.string({ summary: 'Lifetime, such as 90d, 12h or 30m (default: until revoked).' }),
  };

  async run(): Promise<CreatedApiToken> {
    const created = await (await this.session()).call('tokens.create', {
      body: { name: this.args.name, ...(this.flags.expires === undefined ? {} : { expires: this.flags.expires }) },
    });
    // The token alone on stdout, so that `> file` captures just it.
    this.log(created.token);
    const until = created.expiresAt ? `until ${created.expiresAt}` : 'until revoked';
    process.stderr.write(`Created API token '${created.name}' for ${created.user}, valid ${until}. Keep it secret; the master stores only its hash.\n`);
    return created;
  }
}
