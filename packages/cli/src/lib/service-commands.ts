import { Args, Flags } from '@oclif/core';
import { isTerminal } from '@trainyard/shared/constants';
import type { ServiceStatus, Task, TaskKind, TaskPlan } from '@trainyard/shared';
import { CommandFailure, TaskEndedFailure, YardCommand } from '../base-command.js';
import { EXIT, exitStatusOf } from './exit-status.js';
import type { Session } from './session.js';
import { interruptible, StatusReporter, waitUntilRunning } from './task-watch.js';
import { serviceUrl, TaskCreateCommand, taskRequest, taskStartFlags, withOverrides } from './task-commands.js';

const POLL_MS = 1000;

/** Flags of `yard notebook start` and `yard tensorboard start`. */
export const serviceStartFlags = {
  ...taskStartFlags,
  wait: Flags.boolean({ summary: 'Wait until the service answers and print its URL (--no-wait: return once created).', default: true, allowNo: true }),
  timeout: Flags.integer({ summary: `Give up waiting after this many seconds (the task keeps running; exit ${EXIT.TIMEOUT}).`, default: 600, min: 1 }),
  open: Flags.boolean({ summary: 'Open the URL in a browser once the service answers.', default: false }),
};

/** What a service-starting command returns with --json: the task, and the service's URL once it answered. */
export type StartedService = Task & { url?: string };

/** `yard notebook start`, `yard tensorboard start`: create, wait for the service to answer, print its URL. */
export abstract class ServiceStartCommand extends TaskCreateCommand<typeof ServiceStartCommand> {
  static kind: TaskKind;
  static override flags = serviceStartFlags;

  async run(): Promise<StartedService | TaskPlan> {
    const kind = (this.ctor as typeof ServiceStartCommand).kind;
    const config = { ...withOverrides(await this.readConfigFile(this.flags.config), this.flags), ...(await this.kindConfig()) };
    const created = await this.submit(taskRequest(kind, config, this.flags), { ...this.flags, follow: false });
    if (!('id' in created) || !this.flags.wait) return created;
    const session = await this.session();
    const status = await interruptible(
      () => `stopped waiting for ${kind} ${created.id}; it keeps going (\`yard ${kind} kill ${created.id}\` stops it)`,
      () => waitForService(session, created, this.flags.timeout * 1000, (line) => process.stderr.write(`${line}\n`)),
    );
    const url = serviceUrl(status, this.leader);
    this.log(`${kind} ${created.id} is ready: ${url}`);
    if (this.flags.open) await openBrowser(url);
    return { ...(await session.call('tasks.get', { params: { id: created.id } })), url };
  }

  /** Kind-specific config from the command line (a TensorBoard's experiments). */
  protected async kindConfig(): Promise<Record<string, unknown>> {
    return {};
  }
}

/** `yard notebook open ID`, `yard tensorboard open ID`: the URL of a running service (and a browser on it). */
export abstract class ServiceOpenCommand extends YardCommand<typeof ServiceOpenCommand> {
  static override args = { id: Args.integer({ required: true, min: 1, description: 'task id' }) };
  static override flags = {
    browser: Flags.boolean({ summary: 'Open it in a browser (default: when the output is a terminal).', allowNo: true }),
  };

  async run(): Promise<ServiceStatus & { url: string }> {
    const session = await this.session();
    const status = await session.call('tasks.service', { params: { id: this.args.id }, query: { probe: true } });
    if (isTerminal(status.state)) throw new CommandFailure('GONE', `${status.kind} ${status.taskId} has ended (${status.state}): start a new one`);
    const url = serviceUrl(status, this.leader);
    if (!status.ready) process.stderr.write(`${status.kind} ${status.taskId} does not answer yet (${status.message ?? status.state}); its URL:\n`);
    this.log(url);
    if (this.flags.browser ?? (process.stdout.isTTY === true && !this.jsonEnabled())) await openBrowser(url);
    return { ...status, url };
  }
}

/**
 * Follows a new service until it answers: first until its task runs (saying why it waits, as that
 * changes), then probing the service once a second. A task that ends first is a failure with its
 * message and its exit status; `timeoutMs` passing is one with EXIT.TIMEOUT (the task keeps running).
 */
export async function waitForService(session: Session, task: Task, timeoutMs: number, progress: (line: string) => void): Promise<ServiceStatus> {
  const deadline = Date.now() + timeoutMs;
  await waitUntilRunning(session, task, timeoutMs, new StatusReporter(`${task.kind} ${task.id}`, progress));
  let said = false;
  for (;;) {
    const status = await session.call('tasks.service', { params: { id: task.id }, query: { probe: true } });
    if (status.ready) return status;
    if (isTerminal(status.state)) {
      const ended = await session.call('tasks.get', { params: { id: task.id } });
      throw new TaskEndedFailure(
        `${task.kind} ${task.id} ended (${ended.state}) before its service answered${ended.message ? `: ${ended.message}` : ''}; see \`yard ${task.kind} logs ${task.id}\``,
        exitStatusOf(ended),
      );
    }
    if (status.state === 'RUNNING' && !said) {
      progress(`${task.kind} ${task.id}: waiting for the service to answer...`);
      said = true;
    }
    if (Date.now() > deadline) throw serviceTimeout(task, timeoutMs, `${status.state}: ${status.message ?? 'no answer'}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function serviceTimeout(task: Task, timeoutMs: number, where: string): CommandFailure {
  return new CommandFailure(
    'SERVICE_TIMEOUT',
    `${task.kind} ${task.id} did not answer within ${Math.round(timeoutMs / 1000)} s (${where}); ` +
      `it keeps running: see \`yard ${task.kind} logs ${task.id}\`, try \`yard ${task.kind} open ${task.id}\` later, or \`yard ${task.kind} kill ${task.id}\``,
    EXIT.TIMEOUT,
  );
}

/** The system's browser (the `open` package: xdg-open and friends); a failure to launch is a note, not an error. */
async function openBrowser(url: string): Promise<void> {
  try {
    const { default: open } = await import('open');
    await open(url);
  } catch (error) {
    process.stderr.write(`could not open a browser (${(error as Error).message}); open ${url} yourself\n`);
  }
}
