import { Args, Flags, type Command } from '@oclif/core';
import { DEFAULT_POOL, isTerminal } from '@trainyard/shared/constants';
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
} from '@trainyard/shared';
import { YardCommand } from '../base-command.js';
import { ConfigFileError, readConfigText } from './config-file.js';
import { escapeText, terminalSafeLine } from './escape.js';
import type { Session } from './session.js';
import { describePlan, describeTask, runAs, tasksTable } from './task-format.js';

const idArg = Args.integer({ required: true, min: 1, description: 'task id' });

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

/** `yard <kind> describe ID` */
export abstract class TaskDescribeCommand extends YardCommand<typeof TaskDescribeCommand> {
  static override args = { id: idArg };

  async run(): Promise<Task & { service?: ServiceStatus & { url: string } }> {
    const session = await this.session();
    const task = await session.call('tasks.get', { params: { id: this.args.id } });
    this.log(describeTask(task));
    if (!SERVICE_KINDS.includes(task.kind)) return task;
    // A notebook's or TensorBoard's service: where it is served, and whether it answers now.
    const status = await session.call('tasks.service', { params: { id: task.id }, query: { probe: task.state === 'RUNNING' } });
    const url = `${this.master}${status.path}`;
    this.log(`URL:        ${url} (${status.ready ? 'answers' : (status.message ?? 'not answering')})`);
    return { ...task, service: { ...status, url } };
  }
}

/** `yard <kind> kill ID` */
export abstract class TaskKillCommand extends YardCommand<typeof TaskKillCommand> {
  static override args = { id: idArg };

  async run(): Promise<Task> {
    const task = await (await this.session()).call('tasks.kill', { params: { id: this.args.id } });
    this.log(task.state === 'KILLED' ? `Killed ${task.kind} ${task.id}.` : `Stopping ${task.kind} ${task.id} (it was ${task.state}).`);
    return task;
  }
}

/** `yard <kind> logs ID [-f]` */
export abstract class TaskLogsCommand extends YardCommand<typeof TaskLogsCommand> {
  static override args = { id: idArg };
  static override flags = {
    follow: Flags.boolean({ char: 'f', summary: 'Keep printing new lines until the task ends.', default: false }),
    raw: Flags.boolean({
      summary: 'Print the lines exactly as the task wrote them.',
      description: 'Without it, colours, tabs and carriage returns pass and other control sequences are shown escaped.',
      default: false,
    }),
  };

  async run(): Promise<{ items: TaskLogLine[]; state: string }> {
    const show = this.flags.raw ? (text: string) => text : terminalSafeLine;
    const result = await followLogs(await this.session(), this.args.id, this.flags.follow, (line) => {
      if (!this.jsonEnabled()) this.log(show(line.line));
    });
    return result;
  }
}

/** Prints a task's logs from the start; with `follow`, until it ends. */
export async function followLogs(
  session: Session,
  id: number,
  follow: boolean,
  print: (line: TaskLogLine) => void,
): Promise<{ items: TaskLogLine[]; state: TaskLogPage['state'] }> {
  const items: TaskLogLine[] = [];
  let after = 0;
  for (;;) {
    const wait = follow ? 20 : 0;
    const page = await session.call('tasks.logs', { params: { id }, query: { after, limit: 1000, wait } });
    for (const line of page.items) {
      items.push(line);
      print(line);
    }
    after = page.next;
    if (page.done || (!follow && page.items.length === 0)) return { items, state: page.state };
  }
}

/** Shared by every command that creates a task: post (or plan), print what runs as whom, maybe follow. */
export abstract class TaskCreateCommand<T extends typeof Command> extends YardCommand<T> {
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
    const { state } = await followLogs(session, task.id, true, (line) => {
      if (!this.jsonEnabled()) this.log(terminalSafeLine(line.line));
    });
    const final = await session.call('tasks.get', { params: { id: task.id } });
    process.stderr.write(`${task.kind} ${task.id} ended: ${state}${final.exitCode === null ? '' : ` (exit code ${final.exitCode})`}\n`);
    if (isTerminal(state) && state !== 'COMPLETED') process.exitCode = 1;
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
  'dry-run': Flags.boolean({ summary: 'Print the run spec it would run with (or the refusal), and create nothing.', default: false }),
  'default-mounts': Flags.boolean({
    summary: "With the policy's default mounts (--no-default-mounts: without them; the ones it always adds stay).",
    allowNo: true,
  }),
  follow: Flags.boolean({ char: 'f', summary: 'Print its logs until it ends.', default: false }),
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

/** The request for a task of `kind` with `config`, in the group `--group` and the pool `--pool` name (if any). */
export const taskRequest = (kind: TaskKind, config: CreateTaskRequest['config'], flags: { group?: string | undefined; pool?: string | undefined }): CreateTaskRequest => ({
  kind,
  config,
  ...(flags.group ? { group: flags.group } : {}),
  ...(flags.pool ? { pool: flags.pool } : {}),
});
