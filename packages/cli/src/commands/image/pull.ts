import { Args, Flags } from '@oclif/core';
import type { ImageOperation } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { outputFlags } from '../../lib/output.js';
import { operationView } from '../../lib/image-format.js';
import { failureOf, followOperation, OperationReporter } from '../../lib/image-operation.js';

export default class ImagePull extends YardCommand<typeof ImagePull> {
  static override summary = "Ask the agents of a pool (or one agent) to pull an image your policy allows, following each agent's progress.";
  static override description =
    "The master checks your effective policy first: images.user_pull (whether users may ask for pulls at all; holders of " +
    "change_config always may), images.allow (holders of use_any_image skip it) and pools.allow, and a refusal names the " +
    'rule and its layer. Every alive agent of --pool (default: the default pool) that holds images pulls it, or only ' +
    "--agent; agents on the process executor hold none and are skipped, saying so. Each agent's layers and bytes show on " +
    'stderr as Docker reports them; the end is a line per agent on stdout, and yard exits 1 if any failed (an unknown ' +
    'image, a registry it cannot reach), with each reason. Audited as image.pull.';
  static override examples = [
    '<%= config.bin %> image pull registry.example.com:5000/team/tool:1',
    '<%= config.bin %> image pull python:3.11-slim --pool gpu',
    '<%= config.bin %> image pull team/tool:2 --agent gpu-1 --no-wait --json',
  ];
  static override args = { image: Args.string({ required: true, description: 'the image reference, such as registry.example.com:5000/team/tool:1' }) };
  static override flags = {
    pool: Flags.string({ summary: "Pull on this pool's agents (default: the default pool)." }),
    agent: Flags.string({ summary: 'Pull on this agent only.', exclusive: ['pool'] }),
    'no-wait': Flags.boolean({ summary: 'Return once the agents were asked, without following the pull.', default: false }),
    ...outputFlags,
  };

  async run(): Promise<ImageOperation> {
    const { pool, agent } = this.flags;
    const session = await this.session();
    const started = await session.call('images.pull', { body: { image: this.args.image, pool, agent } });
    process.stderr.write(`Pulling ${started.images[0]} on ${started.agents.length} agent${started.agents.length === 1 ? '' : 's'} of pool ${started.pool} (operation ${started.id})\n`);
    if (this.flags['no-wait']) return started;
    const ended = await followOperation(session, started, new OperationReporter());
    await this.print({ data: ended, items: ended.agents, view: operationView });
    const failure = failureOf(ended, `pull of ${ended.images[0]}`);
    if (failure) throw failure;
    return ended;
  }
}
