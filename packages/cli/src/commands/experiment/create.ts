import { Args } from '@oclif/core';
import type { Task } from '@trainyard/shared';
import { readConfigText } from '../../lib/config-file.js';
import { TaskCreateCommand, taskStartFlags } from '../../lib/task-commands.js';

export default class ExperimentCreate extends TaskCreateCommand<typeof ExperimentCreate> {
  static override summary = 'Create an experiment from a YAML config file.';
  static override description =
    'The config names the experiment, its image and entrypoint, and may set resources (slots, cpu, memory), ' +
    'bind_mounts, environment and max_restarts. It runs as your linked agent user, or as the master\'s ' +
    'security.default_task; a config cannot choose its own user.';
  static override examples = ['<%= config.bin %> experiment create mnist.yaml', '<%= config.bin %> experiment create mnist.yaml --follow'];
  static override args = { config: Args.string({ required: true, description: 'experiment config file (YAML)' }) };
  static override flags = { follow: taskStartFlags.follow };

  async run(): Promise<Task> {
    // The master parses the YAML itself, with the same limits for every client.
    const text = await readConfigText(this.args.config);
    return this.submit({ kind: 'experiment', config: text }, this.flags.follow);
  }
}
