import type { Task, TaskPlan } from '@trainyard/shared';
import { trailingArgs } from '../../argv.js';
import { TaskCreateCommand, taskRequest, taskStartFlags, withOverrides } from '../../lib/task-commands.js';

export default class CommandRun extends TaskCreateCommand<typeof CommandRun> {
  static override summary = 'Run a command in a container on the cluster.';
  static override description = 'Everything after `--` is the command, run as your linked agent user (or security.default_task).';
  static override examples = [
    "<%= config.bin %> command run -- python train.py --epochs 3",
    "<%= config.bin %> command run --image busybox:latest -f -- sh -c 'id; hostname'",
    '<%= config.bin %> command run --pool gpu -- nvidia-smi',
  ];
  static override strict = false;
  static override flags = taskStartFlags;

  async run(): Promise<Task | TaskPlan> {
    const { argv } = await this.parse(CommandRun);
    const command = trailingArgs() ?? argv.map(String);
    if (command.length === 0) this.error('give the command after `--`, e.g. yard command run -- python train.py', { exit: 2 });
    const config = withOverrides(await this.readConfigFile(this.flags.config), this.flags);
    return this.submit(taskRequest('command', { ...config, entrypoint: command }, this.flags), this.flags);
  }
}
