import { Args, Flags, type Command } from '@oclif/core';
import { DEFAULT_POOL, describeKillRequest, isTerminal, MAX_PRIORITY, MIN_PRIORITY } from '@trainyard/shared/constants';
import { ApiError } from '@trainyard/shared/client';
import { SERVICE_KINDS } from '@trainyard/shared/interactive';
import type {
  CreateTaskRequest,
  Page,
  ServiceStatus,
  Task,
  TaskKind,
  TaskLogLine,
  TaskLogPage,
  TaskPlan,
  TaskSummary,
  TaskWhy,
} from '@trainyard/shared';
import { YardCommand } from '../base-command.js';
import { ConfigFileError, readConfigText } from './config-file.js';
import { escapeText, terminalSafeLine } from './escape.js';
import { EXIT, EXIT_STATUS_HELP, exitStatusOf } from './exit-status.js';
import type { Session } from './session.js';
import { describePlan, describeTask, runAs, tasksTable } from './task-format.js';
import { followTask, interruptible, StatusReporter } from './task-watch.js';
import { describeWhy } from './why-format.js';

const idArg = Args.integer({ required: true, min: 1, description: 'task id' });

/** The task ids of a command that takes several (`kill 4 5`, `task wait 12 13`), each once, in order. */
export function taskIds(argv: unknown[], fail: (message: string) => never): number[] {
  const ids = argv.map((value) => {
    const id = Number(value);
    if (!Number.isSafeInteger(id) || id < 1) fail(`'${String(value)}' is not a task id (a positive whole number)`);
    return id;
  });
  return [...new Set(ids)];
}

/** `yard <kind> list`: your tasks of one kind, or everyone's with -a. */
export abstract class TaskListCommand extends YardCommand<typeof TaskListCommand> {
  /** Undefined for `yard task list`: every kind. */
  static kind: TaskKind | undefined;
  static override flags = {
    all: Flags.boolean({ char: 'a', summary: "Show every user's tasks, not only yours.", default: false }),
    limit: Flags.integer({ summary: 'Show at most this many (newest first).', default: 50, min: 1, max: 500 }),
    after: Flags.string({ summary: 'Continue after this cursor (the `next` of a previous --json page).' }),
  };

  async run(): Promise<Page<TaskSummary>> {
    const kind = (this.ctor as typeof TaskListCommand).kind;
    const page = await (await this.session()).call('tasks.list', {
      query: { all: this.flags.all, limit: this.flags.limit, ...(kind ? { kind } : {}), ...(this.flags.after ? { after: this.flags.after } : {}) },
    });
    this.log(tasksTable(page.items));
    if (page.next && !this.jsonEnabled()) {
      process.stderr.write(`(showing the newest ${page.items.length}; more with --limit, or --after ${page.next})\n`);
    }
    return page;
  }
}

/** Where a task's service is opened: its own origin (the services origin), else the master's. */
export const serviceUrl = (status: Pick<ServiceStatus, 'origin' | 'path'>, master: string): string => `${status.origin ?? master}${status.path}`;

/** `yard <kind> describe ID` */
export abstract class TaskDescribeCommand extends YardCommand<typeof TaskDescribeCommand> {
  static override args = { id: idArg };

  async run(): Promise<Task & { service?: ServiceStatus & { url: string }; why?: TaskWhy }> {
    const session = await this.session();
    const task = await session.call('tasks.get', { params: { id: this.args.id } });
    this.log(describeTask(task));
    if (task.state === 'QUEUED') {
      // Every reason it waits at once, and when it may start (yard why).
      const why = await session.call('tasks.why', { params: { id: task.id } });
      this.log(`\n${describeWhy(why)}`);
      return { ...task, why };
    }
    if (!SERVICE_KINDS.includes(task.kind)) return task;
    // A notebook's or TensorBoard's service: where it is served, and whether it answers now.
    const status = await session.call('tasks.service', { params: { id: task.id }, query: { probe: task.state === 'RUNNING' } });
    const url = serviceUrl(status, this.master);
    this.log(`URL:        ${url} (${status.ready ? 'answers' : (status.message ?? 'not answering')})`);
    return { ...task, service: { ...status, url } };
  }
}

/** What `yard <kind> kill A B` returns with --json: per id, the task as it is now or why it could not be killed. */
export interface KillResult {
  id: number;
  task?: Task;
  error?: { code: string; message: string };
}

/**
 * `yard <kind> kill ID...`: each id in turn, each reported; exits 1 if any could not be killed.
 * With --json one id gives the task (as before), several a list of results (as kubectl does).
 */
export abstract class TaskKillCommand extends YardCommand<typeof TaskKillCommand> {
  static override description =
    'A queued task ends KILLED at once. One on an agent shows as KILLING (its state until the agent has stopped it: ' +
    'SIGTERM, then SIGKILL after agents.kill_grace) and then ends KILLED; `describe` says who asked. Several ids are ' +
    'killed one by one, each reported; yard exits 1 if any of them could not be.';
  static override args = { id: idArg };
  // More ids after the first (`experiment kill 4 5`).
  static override strict = false;

  async run(): Promise<Task | KillResult[]> {
    const ids = taskIds(this.positionals, (message) => this.error(message, { exit: 2 }));
    const session = await this.session();
    const kill = async (id: number) => {
      const task = await session.call('tasks.kill', { params: { id } });
      this.log(
        task.state === 'KILLED'
          ? `Killed ${task.kind} ${task.id}.`
          : `Killing ${task.kind} ${task.id} (${task.state}; it ends KILLED once its agent has stopped it).`,
      );
      return task;
    };
    if (ids.length === 1) return kill(ids[0]!);
    const results: KillResult[] = [];
    for (const id of ids) {
      try {
        results.push({ id, task: await kill(id) });
      } catch (error) {
        // One refusal does not stop the rest; the master's reason is said for each.
        if (!(error instanceof ApiError)) throw error;
        results.push({ id, error: { code: error.code, message: error.message } });
        process.stderr.write(`Error: ${escapeText(error.message)}\n`);
      }
    }
    if (results.some((r) => r.error)) process.exitCode = EXIT.ERROR;
    return results;
  }
}

/** `yard <kind> logs ID [-f]` */
export abstract class TaskLogsCommand extends YardCommand<typeof TaskLogsCommand> {
  static override description =
    'With -f it follows until the task ends: a task that waits (queued, pulling its image) says why on stderr, and again ' +
    'each time that changes; yard then exits with the task\'s exit status.\n\n' +
    EXIT_STATUS_HELP;
  static override args = { id: idArg };
  static override flags = {
    follow: Flags.boolean({
      char: 'f',
      summary: 'Keep printing new lines until the task ends; say why it waits meanwhile; exit with its exit status.',
      default: false,
    }),
    raw: Flags.boolean({
      summary: 'Print the lines exactly as the task wrote them.',
      description: 'Without it, colours, tabs and carriage returns pass and other control sequences are shown escaped.',
      default: false,
    }),
  };

  async run(): Promise<{ items: TaskLogLine[]; state: string }> {
    const show = this.flags.raw ? (text: string) => text : terminalSafeLine;
    const print = (line: TaskLogLine) => {
      if (!this.jsonEnabled()) this.log(show(line.line));
    };
    const session = await this.session();
    if (!this.flags.follow) return printLogs(session, this.args.id, print);
    const id = this.args.id;
    // `yard command logs 12` speaks of command 12, `yard task logs 12` of task 12.
    const label = `${this.id?.split(':')[0] ?? 'task'} ${id}`;
    const result = await interruptible(
      () => `stopped following ${label}; it keeps going`,
      () => followTask(session, id, print, new StatusReporter(label)),
    );
    await this.endedWith(id, session);
    return result;
  }

  /** Says how the followed task ended and exits with its status (see exit-status.ts). */
  private async endedWith(id: number, session: Session): Promise<void> {
    const task = await session.call('tasks.get', { params: { id } });
    sayEnded(task);
    process.exitCode = exitStatusOf(task);
  }
}

/** Prints the lines a task has so far, and returns. */
async function printLogs(session: Session, id: number, print: (line: TaskLogLine) => void): Promise<{ items: TaskLogLine[]; state: TaskLogPage['state'] }> {
  const items: TaskLogLine[] = [];
  let after = 0;
  for (;;) {
    const page = await session.call('tasks.logs', { params: { id }, query: { after, limit: 1000 } });
    for (const line of page.items) {
      items.push(line);
      print(line);
    }
    after = page.next;
    if (page.done || page.items.length === 0) return { items, state: page.state };
  }
}

/** `command 12 ended: FAILED (exit code 7)`, on stderr, with who killed it when it was killed. */
export function sayEnded(task: Task): void {
  const code = task.exitCode === null ? '' : ` (exit code ${task.exitCode})`;
  const killed = task.state === 'KILLED' && task.killRequest ? `, killed by ${describeKillRequest(task.killRequest)}` : '';
  const why = task.state !== 'KILLED' && task.state !== 'COMPLETED' && task.message ? `: ${task.message}` : '';
  process.stderr.write(`${task.kind} ${task.id} ended: ${task.state}${code}${escapeText(killed + why)}\n`);
}

/** Shared by every command that creates a task: post (or plan), print what runs as whom, maybe follow. */
export abstract class TaskCreateCommand<T extends typeof Command> extends YardCommand<T> {
  // oclif's help gathers static properties up the class chain only while each class has some of
  // its own: without one here, `notebook start --help` (one class further down) lost the global flags.
  static override baseFlags = YardCommand.baseFlags;

  protected async submit(request: CreateTaskRequest, flags: { follow: boolean; 'dry-run': boolean }): Promise<Task | TaskPlan> {
    const session = await this.session();
    if (flags['dry-run']) {
      const plan = await session.call('tasks.plan', { body: request });
      this.log(`Dry run: nothing was created. This ${plan.kind} would run as follows.\n${describePlan(plan)}`);
      return plan;
    }
    const task = await session.call('tasks.create', { body: request });
    const group = task.group ? ` in group ${task.group}` : '';
    const pool = task.pool === DEFAULT_POOL ? '' : ` (pool ${task.pool})`;
    this.log(`Created ${task.kind} ${task.id} (${escapeText(task.name)})${group}${pool}; it runs as ${runAs(task)}. State: ${task.state}.`);
    if (!flags.follow) return task;
    await interruptible(
      () => `stopped following ${task.kind} ${task.id}; it keeps going (\`yard ${task.kind} kill ${task.id}\` stops it)`,
      () =>
        followTask(
          session,
          task.id,
          (line) => {
            if (!this.jsonEnabled()) this.log(terminalSafeLine(line.line));
          },
          new StatusReporter(`${task.kind} ${task.id}`),
        ),
    );
    const final = await session.call('tasks.get', { params: { id: task.id } });
    sayEnded(final);
    process.exitCode = exitStatusOf(final);
    return final;
  }

  /** A small YAML config file, read as the same limits the master applies. */
  protected async readConfigFile(file: string | undefined): Promise<Record<string, unknown>> {
    if (!file) return {};
    const text = await readConfigText(file);
    let value: unknown;
    // Loaded here, not at start-up: most commands never read YAML.
    const { parseYaml, YamlError } = await import('@trainyard/shared/yaml');
    try {
      value = parseYaml(text, { maxAliasCount: 50 });
    } catch (error) {
      if (error instanceof YamlError) throw new ConfigFileError(`${file} is ${error.message}`);
      throw error;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigFileError(`${file} must hold a YAML mapping of keys to values`);
    }
    return value as Record<string, unknown>;
  }
}

/** Flags every task-creating command has (experiment create too). */
export const admissionFlags = {
  group: Flags.string({ char: 'g', summary: 'Create it in this group (you must be a direct member); default: group: in the config, else your default group.' }),
  pool: Flags.string({ summary: "Run it in this resource pool (yard pool list); default: pool: in the config, else the group's default pool, else the master's." }),
  priority: Flags.integer({
    summary: `Its place in your own queue, ${MIN_PRIORITY}..${MAX_PRIORITY} (higher first; default: priority: in the config, else 0).`,
    description: "It orders your tasks (charged to the same group) among themselves; it never puts them ahead of other people's.",
    min: MIN_PRIORITY,
    max: MAX_PRIORITY,
  }),
  preempt: Flags.boolean({
    summary: 'May it be preempted? --no-preempt: never stopped to give borrowed room back, and so it never borrows beyond its group\'s guarantee.',
    allowNo: true,
  }),
  'dry-run': Flags.boolean({ summary: 'Print the run spec it would run with (or the refusal), and create nothing.', default: false }),
  'default-mounts': Flags.boolean({
    summary: "With the policy's default mounts (--no-default-mounts: without them; the ones it always adds stay).",
    allowNo: true,
  }),
  follow: Flags.boolean({
    char: 'f',
    summary: 'Print its logs until it ends, saying why it waits meanwhile (stderr); exit with its exit status.',
    default: false,
  }),
};

/** Flags every task-starting command shares. */
export const taskStartFlags = {
  ...admissionFlags,
  image: Flags.string({ summary: 'Container image (default: the master’s tasks.images for this kind).' }),
  name: Flags.string({ summary: 'A name to list it by.' }),
  config: Flags.string({ char: 'c', summary: 'A YAML file with resources, bind_mounts, environment, cap_add, port...' }),
};

export function withOverrides(
  config: Record<string, unknown>,
  flags: { image?: string | undefined; name?: string | undefined; 'default-mounts'?: boolean | undefined },
): Record<string, unknown> {
  return {
    ...config,
    ...(flags.image ? { image: flags.image } : {}),
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags['default-mounts'] === undefined ? {} : { default_mounts: flags['default-mounts'] }),
  };
}

/** The request for a task of `kind` with `config`, in the group `--group` and the pool `--pool` name (if any), with `--priority` and `--no-preempt`. */
export const taskRequest = (
  kind: TaskKind,
  config: CreateTaskRequest['config'],
  flags: { group?: string | undefined; pool?: string | undefined; priority?: number | undefined; preempt?: boolean | undefined },
): CreateTaskRequest => ({
  kind,
  config,
  ...(flags.group ? { group: flags.group } : {}),
  ...(flags.pool ? { pool: flags.pool } : {}),
  ...(flags.priority === undefined ? {} : { priority: flags.priority }),
  ...(flags.preempt === undefined ? {} : { preemptible: flags.preempt }),
});
