import type { Task, TaskPlan } from '@trainyard/shared';
import { trailingArgs } from '../../argv.js';
import { EXIT_STATUS_HELP } from '../../lib/exit-status.js';
import { TaskCreateCommand, taskRequest, taskStartFlags, withOverrides } from '../../lib/task-commands.js';

export default class CommandRun extends TaskCreateCommand<typeof CommandRun> {
  static override summary = 'Run a command in a container on the cluster.';
  static override description =
    'Everything after `--` is the command, run as your linked agent user (or security.default_task). With -f its output ' +
    'follows on stdout; why it waits (queued: QUOTA_RUNNING_USER..., NO_AGENT_FITS..., pulling the image) goes to stderr, ' +
    'and yard exits with its exit status.\n\n' +
    EXIT_STATUS_HELP;
  static override examples = [
    "<%= config.bin %> command run -- python train.py --epochs 3",
    "<%= config.bin %> command run --image busybox:latest -f -- sh -c 'id; hostname'",
    "<%= config.bin %> command run -f -- sh -c 'exit 7'; echo $?   # 7",
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
