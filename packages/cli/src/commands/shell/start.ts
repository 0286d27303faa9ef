import { Flags } from '@oclif/core';
import type { Task, TaskPlan } from '@trainyard/shared';
import { EXIT, EXIT_STATUS_HELP } from '../../lib/exit-status.js';
import { TaskCreateCommand, taskRequest, taskStartFlags, withOverrides } from '../../lib/task-commands.js';
import { interruptible, StatusReporter, waitUntilRunning } from '../../lib/task-watch.js';

export default class ShellStart extends TaskCreateCommand<typeof ShellStart> {
  static override summary = 'Start a shell task on the cluster (a container that stays up for you), and wait until it runs.';
  static override description =
    'While it waits, why is printed on stderr (queued: QUOTA_RUNNING_USER..., NO_AGENT_FITS..., pulling the image), ' +
    'and again each time it changes; then `yard shell open ID` gets you a terminal in it. --no-wait returns once it ' +
    'is created.\n\n' +
    EXIT_STATUS_HELP;
  static override examples = [
    '<%= config.bin %> shell start',
    '<%= config.bin %> shell start --image busybox:latest',
    '<%= config.bin %> shell start --json | jq .id',
  ];
  static override flags = {
    ...taskStartFlags,
    wait: Flags.boolean({ summary: 'Wait until it runs (--no-wait: return once created).', default: true, allowNo: true }),
    timeout: Flags.integer({ summary: `Give up waiting after this many seconds (it stays queued; exit ${EXIT.TIMEOUT}).`, default: 600, min: 1 }),
  };

  async run(): Promise<Task | TaskPlan> {
    const config = withOverrides(await this.readConfigFile(this.flags.config), this.flags);
    const created = await this.submit(taskRequest('shell', config, this.flags), this.flags);
    if (!('id' in created) || !this.flags.wait || this.flags.follow) return created;
    const label = `shell ${created.id}`;
    const session = await this.session();
    const running = await interruptible(
      () => `stopped waiting for ${label}; it keeps going (\`yard shell kill ${created.id}\` stops it)`,
      () => waitUntilRunning(session, created, this.flags.timeout * 1000, new StatusReporter(label)),
    );
    this.log(`${label} is running: \`yard shell open ${created.id}\` opens a terminal in it.`);
    return running;
  }
}
