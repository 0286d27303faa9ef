import type { Task, TaskPlan } from '@trainyard/shared';
import { TaskCreateCommand, taskRequest, taskStartFlags, withOverrides } from '../../lib/task-commands.js';

export default class ShellStart extends TaskCreateCommand<typeof ShellStart> {
  static override summary = 'Start a shell task on the cluster (a container that stays up for you).';
  static override examples = ['<%= config.bin %> shell start', '<%= config.bin %> shell start --image busybox:latest'];
  static override flags = taskStartFlags;

  async run(): Promise<Task | TaskPlan> {
    const config = withOverrides(await this.readConfigFile(this.flags.config), this.flags);
    return this.submit(taskRequest('shell', config, this.flags), this.flags);
  }
}
