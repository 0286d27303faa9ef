import { Args } from '@oclif/core';
import type { Task, TaskPlan } from '@trainyard/shared';
import { readConfigText } from '../../lib/config-file.js';
import { EXIT_STATUS_HELP } from '../../lib/exit-status.js';
import { admissionFlags, TaskCreateCommand, taskRequest, withOverrides } from '../../lib/task-commands.js';

export default class ExperimentCreate extends TaskCreateCommand<typeof ExperimentCreate> {
  static override summary = 'Create an experiment from a YAML config file.';
  static override description =
    'The config names the experiment, its image and entrypoint, and may set resources (gpus, cpu, memory), ' +
    'bind_mounts, environment, cap_add, port, group and max_restarts. It runs as your linked agent user, or as the ' +
    "master's security.default_task; a config cannot choose its own user. The admin's policy decides what it may " +
    'ask for: --dry-run shows what would run, or why not. --follow prints its logs until it ends (why it waits on ' +
    'stderr) and exits with its exit status.\n\n' +
    EXIT_STATUS_HELP;
  static override examples = [
    '<%= config.bin %> experiment create mnist.yaml',
    '<%= config.bin %> experiment create mnist.yaml --group research --follow',
    '<%= config.bin %> experiment create mnist.yaml --dry-run',
  ];
  static override args = { config: Args.string({ required: true, description: 'experiment config file (YAML)' }) };
  static override flags = admissionFlags;

  async run(): Promise<Task | TaskPlan> {
    // The master parses the YAML itself, with the same limits for every client; only a flag that
    // changes the config makes the CLI read it (with those same limits) and send it as an object.
    const config = this.flags['default-mounts'] === undefined
      ? await readConfigText(this.args.config)
      : withOverrides(await this.readConfigFile(this.args.config), this.flags);
    return this.submit(taskRequest('experiment', config, this.flags), this.flags);
  }
}
