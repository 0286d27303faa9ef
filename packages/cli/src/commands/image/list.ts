import { Args, Flags } from '@oclif/core';
import type { ImageList } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { imagelessNotes, imagesCsv, imagesTable } from '../../lib/image-format.js';

export default class ImageListCommand extends YardCommand<typeof ImageListCommand> {
  static override summary = "List the images on the agents: repository, tag, id, size, age, which agents and pools have each, and whether your policy admits it.";
  static override description =
    "One line per tag (an untagged image shows <none>), over every alive agent, or those of --pool or --agent. ALLOWED says whether " +
    "a task of yours naming that image would pass your policy's images.allow (holders of use_any_image: always). Agents " +
    'that hold no images (the process executor runs tasks without any) are named on stderr. NAME is a glob over ' +
    'REPOSITORY or REPOSITORY:TAG (`team/*`, `*:1`, `busybox`). -o wide adds who loaded each (yard image load), its ' +
    'digests and full id; -o name prints the references only; -o csv every field.';
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
    output: Flags.option({ char: 'o', options: ['table', 'wide', 'name', 'csv', 'json'] as const, summary: 'How to print it (--json is -o json).', default: 'table' })(),
  };

  async run(): Promise<ImageList> {
    const { pool, agent, output } = this.flags;
    const list = await (await this.session()).call('images.list', { query: { pool, agent, name: this.args.name } });
    if (this.jsonEnabled()) return list;
    for (const note of imagelessNotes(list)) process.stderr.write(`${note}\n`);
    if (output === 'json') this.log(JSON.stringify(list, null, 2));
    else if (output === 'csv') process.stdout.write(imagesCsv(list.items));
    else if (output === 'name') for (const reference of list.items.flatMap((i) => (i.reference ? [i.reference] : []))) this.log(reference);
    else if (list.items.length === 0) this.log(this.args.name ? `No image matches ${this.args.name}.` : 'No images on the agents.');
    else this.log(imagesTable(list.items, output === 'wide'));
    return list;
  }
}
