import { Args, Flags, type Command } from '@oclif/core';
import { DEFAULT_POOL, describeKillRequest, isTerminal, MAX_PRIORITY, MIN_PRIORITY, resolvePeriodBound, TASK_STATES } from '@trainyard/shared/constants';
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
import { rangedIntegerFlag } from './flags.js';
import { EXIT, EXIT_STATUS_HELP, exitStatusOf } from './exit-status.js';
import type { Session } from './session.js';
import { outputFlags } from './output.js';
import { describePlan, describeTask, runAs, tasksView } from './task-format.js';
import { followTask, interruptible, StatusReporter, type LogStart } from './task-watch.js';
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

/**
 * A period bound as the master reads it (`1d`, `12h` back on its clock; `2026-12-01`,
 * `2026-12-01T09:00Z`; `now`), checked here so that a typo is a usage error.
 */
export function periodBound(flag: string, value: string, fail: (message: string) => never): string {
  const text = value.trim();
  if (resolvePeriodBound(text, 0) === undefined) {
    fail(`--${flag}: '${value}' is not a duration back from now such as 10m, 12h or 1d, or a date or time such as 2026-12-01 or 2026-12-01T09:00:00Z`);
  }
  return text;
}

/** The filters of every task list, done by the master (GET /tasks: keyset pages of what matches). */
const taskFilterFlags = {
  state: Flags.string({
    summary: 'Only tasks in these states, comma-separated or repeated (RUNNING,QUEUED).',
    options: [...TASK_STATES],
    multiple: true,
    delimiter: ',',
    helpGroup: 'FILTER',
  }),
  owner: Flags.string({ summary: "Only this user's tasks (as -a: whoever's you may see).", helpGroup: 'FILTER' }),
  group: Flags.string({ summary: 'Only tasks charged to this group (its path; not its subgroups).', helpGroup: 'FILTER' }),
  pool: Flags.string({ summary: 'Only tasks of this pool.', helpGroup: 'FILTER' }),
  since: Flags.string({ summary: 'Only tasks created since then: a duration back (1d, 12h) or a date or time (2026-12-01, 2026-12-01T09:00Z).', helpGroup: 'FILTER' }),
  until: Flags.string({ summary: 'Only tasks created before then, written like --since.', helpGroup: 'FILTER' }),
  name: Flags.string({ summary: "Only tasks whose name matches this glob: * any run, ? one character; case doesn't matter.", helpGroup: 'FILTER' }),
};

/** `yard <kind> list`: your tasks of one kind, or everyone's with -a; filtered and paged by the master. */
export abstract class TaskListCommand extends YardCommand<typeof TaskListCommand> {
  /** Undefined for `yard task list`: every kind. */
  static kind: TaskKind | undefined;
  static override flags = {
    all: Flags.boolean({ char: 'a', summary: "Show every user's tasks, not only yours.", default: false }),
    limit: Flags.integer({ summary: 'Show at most this many (newest first).', default: 50, min: 1, max: 500 }),
    after: Flags.string({ summary: 'Continue after this cursor (the `next` of a previous --json page).' }),
    ...taskFilterFlags,
    ...outputFlags,
  };

  async run(): Promise<Page<TaskSummary>> {
    const kind = (this.ctor as typeof TaskListCommand).kind;
    const { all, limit, after, state, owner, group, pool, since, until, name } = this.flags;
    const fail = (message: string): never => this.error(message, { exit: 2 });
    const page = await (await this.session()).call('tasks.list', {
      query: {
        all,
        limit,
        ...(kind ? { kind } : {}),
        ...(after ? { after } : {}),
        ...(state?.length ? { state: state.join(',') } : {}),
        ...(owner ? { owner: owner.trim().toLowerCase() } : {}),
        ...(group ? { group } : {}),
        ...(pool ? { pool } : {}),
        ...(since ? { since: periodBound('since', since, fail) } : {}),
        ...(until ? { until: periodBound('until', until, fail) } : {}),
        ...(name ? { name } : {}),
      },
    });
    await this.print({ data: page, items: page.items, view: tasksView });
    if (page.next && this.forPeople) {
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
  static override flags = outputFlags;

  async run(): Promise<Task & { service?: ServiceStatus & { url: string }; why?: TaskWhy }> {
    const session = await this.session();
    const task = await session.call('tasks.get', { params: { id: this.args.id } });
    // A notebook's or TensorBoard's service: where it is served, and whether it answers now.
    const status = SERVICE_KINDS.includes(task.kind)
      ? await session.call('tasks.service', { params: { id: task.id }, query: { probe: task.state === 'RUNNING' } })
      : undefined;
    const service = status ? { ...status, url: serviceUrl(status, this.leader) } : undefined;
    // A queued task: every reason it waits at once, and when it may start (yard why).
    const why = task.state === 'QUEUED' ? await session.call('tasks.why', { params: { id: task.id } }) : undefined;
    const result = { ...task, ...(service ? { service } : {}), ...(why ? { why } : {}) };
    const text = () =>
      describeTask(task, this.colour) +
      (service ? `\nURL:        ${escapeText(service.url)} (${service.ready ? 'answers' : escapeText(service.message ?? 'not answering')})` : '') +
      (why ? `\n\n${describeWhy(why)}` : '');
    await this.print({ data: result, items: [result], view: tasksView, text });
    return result;
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
    tail: Flags.integer({
      char: 'n',
      summary: 'Only the last N lines (with -f: then follow). The master reads only those.',
      min: 1,
      max: 5000,
    }),
    since: Flags.string({
      summary: "Only lines written since then: a duration (10m, 2h, 1d: on the master's clock) or an ISO time (2026-12-01T09:00:00Z).",
    }),
    timestamps: Flags.boolean({ char: 't', summary: 'Begin each line with the time the master received it (ISO 8601, UTC).', default: false }),
  };

  async run(): Promise<{ items: TaskLogLine[]; state: string }> {
    const show = this.flags.raw ? (text: string) => text : terminalSafeLine;
    const stamp = this.flags.timestamps ? (line: TaskLogLine) => `${line.time} ` : () => '';
    const print = (line: TaskLogLine) => {
      if (!this.jsonEnabled()) this.log(stamp(line) + show(line.line));
    };
    const from: LogStart = { ...(this.flags.tail ? { tail: this.flags.tail } : {}), ...(this.flags.since ? { since: this.since(this.flags.since) } : {}) };
    const session = await this.session();
    if (!this.flags.follow) return printLogs(session, this.args.id, print, from);
    const id = this.args.id;
    // `yard command logs 12` speaks of command 12, `yard task logs 12` of task 12.
    const label = `${this.id?.split(':')[0] ?? 'task'} ${id}`;
    const result = await interruptible(
      () => `stopped following ${label}; it keeps going`,
      () => followTask(session, id, print, new StatusReporter(label), from),
    );
    await this.endedWith(id, session);
    return result;
  }

  /** `--since`: checked here (a usage error), resolved by the master on its own clock. */
  private since(value: string): string {
    return periodBound('since', value, (message) => this.error(message, { exit: 2 }));
  }

  /** Says how the followed task ended and exits with its status (see exit-status.ts). */
  private async endedWith(id: number, session: Session): Promise<void> {
    const task = await session.call('tasks.get', { params: { id } });
    sayEnded(task);
    process.exitCode = exitStatusOf(task);
  }
}

/** Prints the lines a task has so far, and returns. */
async function printLogs(
  session: Session,
  id: number,
  print: (line: TaskLogLine) => void,
  from: LogStart,
): Promise<{ items: TaskLogLine[]; state: TaskLogPage['state'] }> {
  const items: TaskLogLine[] = [];
  let after = 0;
  for (let first = true; ; first = false) {
    const page = await session.call('tasks.logs', { params: { id }, query: { after, limit: 1000, ...(first ? from : {}) } });
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
  priority: rangedIntegerFlag(MIN_PRIORITY, MAX_PRIORITY)({
    summary: `Its place in your own queue, ${MIN_PRIORITY}..${MAX_PRIORITY} (higher first; default: priority: in the config, else 0).`,
    description: "It orders your tasks (charged to the same group) among themselves; it never puts them ahead of other people's.",
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
