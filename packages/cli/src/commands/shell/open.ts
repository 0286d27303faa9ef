import { Args } from '@oclif/core';
import { trailingArgs } from '../../argv.js';
import { CommandFailure, YardCommand } from '../../base-command.js';

export default class ShellOpen extends YardCommand<typeof ShellOpen> {
  static override summary = "Open a terminal inside a running task's container, as the task's user; or run one command there.";
  static override description =
    'With a terminal on stdin you get one in the task (resizes follow, Ctrl-C goes to the task); the command exits with ' +
    "the remote command's exit code. After `--`, a command to run instead of the login shell (without a terminal when " +
    'stdin is not one). Only the task\'s owner, holders of operate_others for the owner, and admins may open it.';
  static override examples = ['<%= config.bin %> shell open 12', '<%= config.bin %> shell open 12 -- nvidia-smi', 'echo hi | <%= config.bin %> shell open 12 -- cat'];
  static override args = { id: Args.integer({ required: true, min: 1, description: 'task id' }) };
  static override enableJsonFlag = false;

  async run(): Promise<{ exitCode: number }> {
    // What follows `--` was kept away from oclif (bin/run.js).
    const trailing = trailingArgs();
    const command = trailing ?? [];
    if (trailing && command.length === 0) throw new CommandFailure('USAGE', 'give a command after --, e.g. yard shell open 12 -- id -u');
    const session = await this.session();
    // Several masters: the shell opens on the leader, found by asking for the task first.
    if (this.masters.length > 1) await session.call('tasks.get', { params: { id: this.args.id } });
    // Loaded here: ws is only needed by this command.
    const { openShell } = await import('../../lib/shell-client.js');
    const exitCode = await openShell({
      master: this.leader,
      token: await session.bearer(),
      userAgent: `yard/${this.config.version} node/${process.versions.node}`,
      taskId: this.args.id,
      ...(command.length > 0 ? { command } : {}),
    });
    process.exitCode = exitCode;
    return { exitCode };
  }
}
