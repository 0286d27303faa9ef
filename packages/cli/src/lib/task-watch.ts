import { describeTaskStatus, isTerminal, taskStatusKey, type TaskStatusView } from '@trainyard/shared/constants';
import type { Task, TaskLogLine, TaskState } from '@trainyard/shared';
import { escapeText } from './escape.js';
import { CommandFailure, TaskEndedFailure } from '../base-command.js';
import { EXIT, exitStatusOf } from './exit-status.js';
import type { Session } from './session.js';

/** How long one long poll is held (the client's request timeout adds this on top of its own). */
const LONG_POLL_SECONDS = 20;

/**
 * Says on stderr why a task waits, once and again each time that changes: `command 12: queued:
 * NO_AGENT_FITS: ...`, `command 12: pulling the image on agent gpu-1`, `command 12: running on agent
 * gpu-1`, `command 12: being killed (asked by alice)`. Stdout stays the task's own output.
 */
export class StatusReporter {
  private said = '';

  constructor(
    private readonly label: string,
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  update(status: TaskStatusView): void {
    // The end is said by whoever waited, with its exit code.
    if (isTerminal(status.state)) return;
    const key = taskStatusKey(status);
    if (key === this.said) return;
    this.said = key;
    this.write(`${this.label}: ${escapeText(describeTaskStatus(status))}`);
  }
}

/**
 * Prints a task's logs from the start until it ends, and (through `report`) its status while it
 * waits and whenever that changes: the first page is asked for at once, so a task that waits is
 * said to within a request's time of starting; after that, long polls that also answer when the
 * status changes (`seen`).
 */
export async function followTask(
  session: Session,
  id: number,
  print: (line: TaskLogLine) => void,
  report?: StatusReporter,
  from: LogStart = {},
): Promise<{ items: TaskLogLine[]; state: TaskState }> {
  const items: TaskLogLine[] = [];
  let after = 0;
  let seen: string | undefined;
  for (;;) {
    // The first page only says where to start (the last lines, or since when); the next go on from it.
    const query = seen === undefined ? { after, limit: 1000, wait: 0, ...from } : { after, limit: 1000, wait: LONG_POLL_SECONDS, seen };
    const page = await session.call('tasks.logs', { params: { id }, query });
    report?.update(page);
    for (const line of page.items) {
      items.push(line);
      print(line);
    }
    after = page.next;
    if (page.done) return { items, state: page.state };
    seen = taskStatusKey(page);
  }
}

/** Where a task's logs start: the last `tail` lines, lines written `since` then (ISO, or 10m back on the master's clock). */
export interface LogStart {
  tail?: number;
  since?: string;
}

/** What `waitForTask` waits for: the task reached it (`true`), or it never will. */
export type WaitCondition = (task: Task) => boolean;

/**
 * Waits until `reached(task)` or the task ended, saying why it waits as that changes; undefined
 * when `deadline` (ms since the epoch) passed first. Long polls that answer when the status changes.
 */
export async function waitForTask(
  session: Session,
  id: number,
  reached: WaitCondition,
  report: StatusReporter | undefined,
  deadline = Number.POSITIVE_INFINITY,
): Promise<{ task: Task; timedOut: boolean }> {
  let task = await session.call('tasks.get', { params: { id } });
  for (;;) {
    report?.update(task);
    if (reached(task) || isTerminal(task.state)) return { task, timedOut: false };
    const left = deadline - Date.now();
    if (left <= 0) return { task, timedOut: true };
    const wait = Math.max(1, Math.min(LONG_POLL_SECONDS, Math.ceil(left / 1000)));
    task = await session.call('tasks.get', { params: { id }, query: { wait, seen: taskStatusKey(task) } });
  }
}

/**
 * Until a new task runs (`shell start`, a service's start): its status said as it changes; a task
 * that ends first is a failure with its exit status, `timeoutMs` passing one with EXIT.TIMEOUT.
 */
export async function waitUntilRunning(session: Session, task: Pick<Task, 'id' | 'kind'>, timeoutMs: number, report: StatusReporter): Promise<Task> {
  const { task: now, timedOut } = await waitForTask(session, task.id, (t) => t.state === 'RUNNING', report, Date.now() + timeoutMs);
  const label = `${task.kind} ${task.id}`;
  if (timedOut) {
    throw new CommandFailure(
      'WAIT_TIMEOUT',
      `${label} did not start within ${Math.round(timeoutMs / 1000)} s (${describeTaskStatus(now)}); it stays queued: ` +
        `\`yard task wait ${task.id} --for RUNNING\` waits again, \`yard ${task.kind} kill ${task.id}\` stops it`,
      EXIT.TIMEOUT,
    );
  }
  if (now.state !== 'RUNNING') {
    throw new TaskEndedFailure(`${label} ended (${now.state}) before it ran${now.message ? `: ${now.message}` : ''}; see \`yard ${task.kind} logs ${task.id}\``, exitStatusOf(now));
  }
  return now;
}

/**
 * Runs `wait` with Ctrl-C meaning "stop waiting": yard says the task keeps going and how to stop
 * it, and exits 130 (the shell's code for an interrupt) without a stack.
 */
export async function interruptible<T>(what: () => string, wait: () => Promise<T>): Promise<T> {
  const onInterrupt = () => {
    process.stderr.write(`\n${what()}\n`);
    process.exit(EXIT.INTERRUPTED);
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await wait();
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
