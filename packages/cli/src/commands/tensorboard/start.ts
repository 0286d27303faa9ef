import type { Task, TaskPlan } from '@trainyard/shared';
import { TaskCreateCommand, taskRequest, taskStartFlags, withOverrides } from '../../lib/task-commands.js';

export default class TensorboardStart extends TaskCreateCommand<typeof TensorboardStart> {
  static override summary = 'Start a TensorBoard on one or more of your experiments.';
  static override examples = ['<%= config.bin %> tensorboard start 12', '<%= config.bin %> tensorboard start 12 14 15'];
  static override strict = false;
  static override flags = taskStartFlags;

  async run(): Promise<Task | TaskPlan> {
    const { argv } = await this.parse(TensorboardStart);
    const ids = argv.map(String);
    if (ids.length === 0) this.error('give at least one experiment id, e.g. yard tensorboard start 12', { exit: 2 });
    const bad = ids.find((id) => !/^[1-9]\d{0,15}$/.test(id));
    if (bad) this.error(`'${bad}' is not an experiment id`, { exit: 2 });
    const config = withOverrides(await this.readConfigFile(this.flags.config), this.flags);
    return this.submit(taskRequest('tensorboard', { ...config, experiment_ids: ids.map(Number) }, this.flags), this.flags);
  }
}
