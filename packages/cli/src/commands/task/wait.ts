import { Args, Flags } from '@oclif/core';
import { ApiError } from '@trainyard/shared/client';
import { describeTaskStatus, isTerminal } from '@trainyard/shared/constants';
import type { Task, TaskState } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { parseDurationMs } from '../../lib/duration.js';
import { escapeText } from '../../lib/escape.js';
import { EXIT, EXIT_STATUS_HELP, exitStatusOf } from '../../lib/exit-status.js';
import { sayEnded, taskIds } from '../../lib/task-commands.js';
import { interruptible, StatusReporter, waitForTask } from '../../lib/task-watch.js';

const TARGETS = ['ended', 'RUNNING', 'COMPLETED', 'FAILED', 'KILLED', 'LOST'] as const;
type Target = (typeof TARGETS)[number];

/** Per id, with --json: where the task got to and the exit status it gave. */
export interface WaitResult {
  id: number;
  /** Its status is the one the command exits with when it is the first that is not 0. */
  exitStatus: number;
  reached: boolean;
  timedOut: boolean;
  task?: Task;
  error?: { code: string; message: string };
}

export default class TaskWait extends YardCommand<typeof TaskWait> {
  static override summary = 'Wait until tasks end (or reach a state), saying why each one waits; exit with the task’s exit status.';
  static override description =
    'While a task waits, its reason is printed on stderr, and again each time it changes (queued: QUOTA_RUNNING_USER..., ' +
    'NO_AGENT_FITS..., pulling the image, running, being killed). With several ids it waits for all of them and exits ' +
    'with the status of the first, in the order given, that is not 0. --for RUNNING is reached once the task has ' +
    'started (also when it already ended after running); --for COMPLETED|FAILED|KILLED|LOST once it ended so, and a task ' +
    'that ended otherwise exits with its own status (1 for COMPLETED). Ctrl-C stops waiting; the tasks keep going.\n\n' +
    EXIT_STATUS_HELP;
  static override examples = [
    '<%= config.bin %> task wait 12',
    '<%= config.bin %> task wait 12 13 14 --timeout 2h',
    '<%= config.bin %> task wait 12 --for RUNNING && <%= config.bin %> shell open 12',
  ];
  static override args = { id: Args.integer({ required: true, min: 1, description: 'task id (more may follow)' }) };
  static override strict = false;
  static override flags = {
    for: Flags.string({
      summary: 'What to wait for: ended (the default: any end), RUNNING (started), or an end: COMPLETED, FAILED, KILLED, LOST.',
      default: 'ended',
    }),
    timeout: Flags.string({ summary: `Give up after this long (90s, 10m, 2h; default: no limit): exit ${EXIT.TIMEOUT}, the tasks keep going.` }),
  };

  async run(): Promise<WaitResult[]> {
    const ids = taskIds(this.positionals, (message) => this.error(message, { exit: 2 }));
    const target = this.target();
    const deadline = this.flags.timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + this.timeoutMs(this.flags.timeout);
    const session = await this.session();
    const results = await interruptible(
      () => `stopped waiting for ${ids.map((id) => `task ${id}`).join(', ')}; ${ids.length > 1 ? 'they keep' : 'it keeps'} going`,
      () =>
        Promise.all(
          ids.map(async (id): Promise<WaitResult> => {
            try {
              const { task, timedOut } = await waitForTask(session, id, reachedFn(target), new StatusReporter(`task ${id}`), deadline);
              return this.outcome(task, target, timedOut);
            } catch (error) {
              if (!(error instanceof ApiError)) throw error;
              process.stderr.write(`Error: ${escapeText(error.message)}\n`);
              return { id, exitStatus: EXIT.ERROR, reached: false, timedOut: false, error: { code: error.code, message: error.message } };
            }
          }),
        ),
    );
    process.exitCode = results.find((r) => r.exitStatus !== 0)?.exitStatus ?? 0;
    return results;
  }

  /** Says where one task got to, and the status it gives. */
  private outcome(task: Task, target: Target, timedOut: boolean): WaitResult {
    const base = { id: task.id, task, timedOut };
    if (timedOut) {
      process.stderr.write(`task ${task.id}: still ${task.state} when --timeout passed (${escapeText(describeTaskStatus(task))}); it keeps going\n`);
      return { ...base, reached: false, exitStatus: EXIT.TIMEOUT };
    }
    if (isTerminal(task.state)) sayEnded(task);
    else process.stderr.write(`task ${task.id} is ${task.state}\n`);
    if (target === 'ended') return { ...base, reached: true, exitStatus: exitStatusOf(task) };
    if (reachedFn(target)(task)) return { ...base, reached: true, exitStatus: EXIT.OK };
    // It ended, and not as asked: its own status (COMPLETED, which is 0, as 1: the wait failed).
    return { ...base, reached: false, exitStatus: exitStatusOf(task) || EXIT.ERROR };
  }

  private target(): Target {
    const value = this.flags.for.trim();
    const target = TARGETS.find((t) => t.toLowerCase() === value.toLowerCase());
    if (!target) this.error(`--for: '${value}' is not one of ${TARGETS.join(', ')}`, { exit: 2 });
    return target;
  }

  private timeoutMs(value: string): number {
    const ms = parseDurationMs(value);
    if (ms === undefined) this.error(`--timeout: '${value}' is not a duration such as 90s, 10m or 2h`, { exit: 2 });
    return ms;
  }
}

/** When the wait for `target` is over for a task (an end always is: waitForTask returns then). */
function reachedFn(target: Target): (task: Task) => boolean {
  if (target === 'ended') return (task) => isTerminal(task.state);
  if (target === 'RUNNING') return (task) => task.state === 'RUNNING' || (isTerminal(task.state) && task.startedAt !== null);
  return (task) => task.state === (target as TaskState);
}
