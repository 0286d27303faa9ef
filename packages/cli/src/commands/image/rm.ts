import { Args, Flags } from '@oclif/core';
import type { ImageOperation } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { outputFlags } from '../../lib/output.js';
import { operationView } from '../../lib/image-format.js';
import { failureOf, followOperation, OperationReporter } from '../../lib/image-operation.js';

export default class ImageRm extends YardCommand<typeof ImageRm> {
  static override summary = 'Remove an image you loaded from the agents of a pool (admins: any image no task uses).';
  static override description =
    'You may remove the names you loaded into the pool with `yard image load`; holders of change_config may remove any ' +
    'image. Either way it is refused while an unfinished task of the pool (queued or running) names it, and it is never ' +
    "forced: an agent whose engine still has a container of it keeps it and says so. Removes the tag (or digest) named; " +
    'the image itself goes with its last name. Audited as image.remove.';
  static override examples = [
    '<%= config.bin %> image rm user/alice/tool:1',
    '<%= config.bin %> image rm team/tool:1 --pool gpu',
    '<%= config.bin %> -u admin image rm python:3.10-slim --agent gpu-1',
  ];
  static override args = { image: Args.string({ required: true, description: 'the image reference, such as user/alice/tool:1' }) };
  static override flags = {
    pool: Flags.string({ summary: "Remove it from this pool's agents (default: the default pool)." }),
    agent: Flags.string({ summary: 'Remove it from this agent only.', exclusive: ['pool'] }),
    ...outputFlags,
  };

  async run(): Promise<ImageOperation> {
    const { pool, agent } = this.flags;
    const session = await this.session();
    const started = await session.call('images.remove', { query: { image: this.args.image, pool, agent } });
    const ended = await followOperation(session, started, new OperationReporter());
    await this.print({ data: ended, items: ended.agents, view: operationView });
    const failure = failureOf(ended, `removal of ${ended.images[0]}`);
    if (failure) throw failure;
    return ended;
  }
}
