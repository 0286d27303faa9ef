import { Args, Flags } from '@oclif/core';
import type { ImageList } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { imagelessNotes, imagesTable, imagesView } from '../../lib/image-format.js';
import { outputFlags } from '../../lib/output.js';

export default class ImageListCommand extends YardCommand<typeof ImageListCommand> {
  static override summary = "List the images on the agents: repository, tag, id, size, age, which agents and pools have each, and whether your policy admits it.";
  static override description =
    "One line per tag (an untagged image shows <none>), over every alive agent, or those of --pool or --agent. ALLOWED says whether " +
    "a task of yours naming that image would pass your policy's images.allow (holders of use_any_image: always). Agents " +
    'that hold no images (the process executor runs tasks without any) are named on stderr. NAME is a glob over ' +
    'REPOSITORY or REPOSITORY:TAG (`team/*`, `*:1`, `busybox`). -o wide adds who loaded each (yard image load), its ' +
    'digests and full id; -o name prints the references (an untagged image: its id); -o csv every column, machine-readable; ' +
    '-o json and yaml the answer, with the agents without images and what your policy lets you pull and load.';
  static override examples = [
    '<%= config.bin %> image list',
    "<%= config.bin %> image list 'team/*' --pool gpu",
    '<%= config.bin %> image list --agent gpu-1 -o wide',
    '<%= config.bin %> image list -o name | grep ^user/',
    '<%= config.bin %> image list --json',
  ];
  static override args = { name: Args.string({ description: 'only images whose REPOSITORY or REPOSITORY:TAG matches this glob (* and ?)', ignoreStdin: true }) };
  static override flags = {
    pool: Flags.string({ summary: "Only this pool's agents." }),
    agent: Flags.string({ summary: 'Only this agent.' }),
    ...outputFlags,
  };

  async run(): Promise<ImageList> {
    const { pool, agent } = this.flags;
    const list = await (await this.session()).call('images.list', { query: { pool, agent, name: this.args.name } });
    if (this.forPeople) for (const note of imagelessNotes(list)) process.stderr.write(`${note}\n`);
    const none = this.args.name ? `No image matches ${this.args.name}.` : 'No images on the agents.';
    await this.print({
      data: list,
      items: list.items,
      view: imagesView,
      ...(list.items.length === 0 ? { text: () => none } : { text: () => imagesTable(list.items, false), wideText: () => imagesTable(list.items, true) }),
    });
    return list;
  }
}
