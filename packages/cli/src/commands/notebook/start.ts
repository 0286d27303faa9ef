import type { Task, TaskPlan } from '@trainyard/shared';
import { TaskCreateCommand, taskRequest, taskStartFlags, withOverrides } from '../../lib/task-commands.js';

export default class NotebookStart extends TaskCreateCommand<typeof NotebookStart> {
  static override summary = 'Start a notebook server on the cluster.';
  static override examples = ['<%= config.bin %> notebook start', '<%= config.bin %> notebook start --image jupyter/base-notebook:latest -c notebook.yaml'];
  static override flags = taskStartFlags;

  async run(): Promise<Task | TaskPlan> {
    const config = withOverrides(await this.readConfigFile(this.flags.config), this.flags);
    return this.submit(taskRequest('notebook', config, this.flags), this.flags);
  }
}
