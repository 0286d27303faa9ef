import { z } from 'zod';
import { groupPathSchema } from './group-path.js';
import { CONTROL_CHARACTER, MAX_CONFIG_BYTES, MAX_PRIORITY, MIN_PRIORITY, TASK_KINDS, type TaskKind, type TaskState } from './constants.js';
import { parseByteSize } from './byte-size.js';
import { POOL_NAME_PATTERN } from './pools.js';
import type { RunSpec } from './run-spec.js';
import { controlCharMessage, taskNameSchema, textSchema } from './text.js';
import { periodBoundSchema, taskStatesSchema } from './usage.js';
import { usernameSchema, type UnixIdentity } from './users.js';


/** A resource pool's name (master.yaml `pools`). */
export const poolNameSchema = z
  .string({ error: 'pool must be a string' })
  .regex(POOL_NAME_PATTERN, 'a pool name is 1-64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit');

/** Memory as bytes: an integer, or a size such as "512Mi", "4Gi", "1G" (see `parseByteSize`). */
export const memorySchema = z
  .union([z.number(), z.string()], { error: 'resources.memory must be bytes or a size such as "4Gi"' })
  .transform((value, ctx) => {
    const bytes = parseByteSize(value);
    if (bytes === undefined || bytes < 4 * 1024 * 1024 || bytes > 2 ** 50) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a memory size from 4Mi up, such as "512Mi" or "4Gi" (Ki/Mi/Gi are 1024-based, K/M/G 1000-based)` });
      return z.NEVER;
    }
    return bytes;
  });

const gpuCount = (key: string) =>
  z.number({ error: `resources.${key} must be a number` }).int(`resources.${key} must be a whole number`).min(0, `resources.${key} cannot be negative`).max(64);

/**
 * What a task asks for. Left out, the policy's `resources.default` applies (none: no GPUs, no cpu
 * or memory limit). `slots` is the 0.1 name of `gpus`, still accepted.
 */
export const resourcesSchema = z
  .strictObject({
    gpus: gpuCount('gpus').optional(),
    slots: gpuCount('slots').optional(),
    cpu: z.number({ error: 'resources.cpu must be a number' }).positive('resources.cpu must be more than 0').max(1024).optional(),
    memory: memorySchema.optional(),
  })
  .refine((r) => r.gpus === undefined || r.slots === undefined, 'resources: give gpus or slots (its old name), not both')
  .transform(({ slots, gpus, ...rest }): ResourceRequest => {
    const count = gpus ?? slots;
    return count === undefined ? rest : { ...rest, gpus: count };
  });
export interface ResourceRequest {
  gpus?: number;
  cpu?: number;
  memory?: number;
}

const absolutePath = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1)
    .max(4096)
    // ".." is allowed: the master normalises paths before it matches them against the policy.
    .refine((p) => p.startsWith('/'), `${what} must be an absolute path (starting with "/")`)
    .refine((p) => !p.includes(':'), `${what} must not contain ":"`)
    .refine((p) => !CONTROL_CHARACTER.test(p), controlCharMessage(what));

export const bindMountSchema = z.strictObject({
  host_path: absolutePath('bind_mounts.host_path'),
  container_path: absolutePath('bind_mounts.container_path'),
  read_only: z.boolean({ error: 'bind_mounts.read_only must be true or false' }).default(false),
});
/** A bind mount as a task config asks for it (what the master admitted is in the run spec). */
export type BindMountRequest = z.output<typeof bindMountSchema>;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const environmentSchema = z
  .record(
    z.string().regex(ENV_NAME, 'environment variable names are letters, digits and "_", not starting with a digit'),
    z.union([z.string(), z.number(), z.boolean()]).transform(String),
  )
  .refine((env) => Object.keys(env).length <= 256, 'at most 256 environment variables');

const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,254}$/;
export const imageSchema = z.string({ error: 'image must be a string' }).regex(IMAGE, 'image must be an image reference such as "busybox:latest"');

const commandSchema = z.union(
  [
    z.string().min(1, 'entrypoint cannot be empty').max(8192),
    z.array(z.string().max(8192)).min(1, 'entrypoint cannot be empty').max(1024),
  ],
  { error: 'entrypoint must be a command string or a list of arguments' },
);

/** `NET_BIND_SERVICE` or `CAP_NET_BIND_SERVICE` (the policy's `capabilities.add` decides). */
const capabilityName = z.string({ error: 'cap_add entries must be capability names' }).regex(/^[A-Za-z_]{1,64}$/, 'cap_add entries must be capability names such as NET_BIND_SERVICE');

/** A task's priority in its owner's own queue. */
export const prioritySchema = z
  .number({ error: 'priority must be a number' })
  .int('priority must be a whole number')
  .min(MIN_PRIORITY, `priority must be ${MIN_PRIORITY}..${MAX_PRIORITY}`)
  .max(MAX_PRIORITY, `priority must be ${MIN_PRIORITY}..${MAX_PRIORITY}`);

/** Everything every kind of task may configure. Unknown keys are refused, so typos are caught. */
const commonConfig = {
  name: taskNameSchema.optional(),
  description: textSchema('description', 4096).optional(),
  /** The group the task is created in (the caller must be a direct member); `--group` on the CLI wins. */
  group: groupPathSchema.optional(),
  /** The resource pool it runs in; `--pool` on the CLI wins; else the group's default pool, else the system's. */
  pool: poolNameSchema.optional(),
  image: imageSchema.optional(),
  entrypoint: commandSchema.optional(),
  resources: resourcesSchema.prefault({}),
  bind_mounts: z.array(bindMountSchema, { error: 'bind_mounts must be a list' }).max(64).default([]),
  /** false: without the policy's `mounts.default` (its `mounts.always` stay). */
  default_mounts: z.boolean({ error: 'default_mounts must be true or false' }).default(true),
  environment: environmentSchema.default({}),
  /** Capabilities to add back after every one is dropped: only those the policy's `capabilities.add` admits. */
  cap_add: z.array(capabilityName, { error: 'cap_add must be a list of capability names' }).max(64).default([]),
  /** The container port the task's service listens on (notebooks and tensorboards have one by default). */
  port: z.number({ error: 'port must be a number' }).int('port must be a whole number').min(1, 'port must be 1-65535').max(65535, 'port must be 1-65535').optional(),
  max_restarts: z.number({ error: 'max_restarts must be a number' }).int().min(0, 'max_restarts cannot be negative').max(100).default(0),
  /** Orders the owner's own queue (higher first; -100..100, default 0): never ahead of anyone else's tasks. */
  priority: prioritySchema.optional(),
  /** false: never preempted, and so never borrows beyond its group's guarantee (`--no-preempt`). */
  preemptible: z.boolean({ error: 'preemptible must be true or false' }).optional(),
};

/** The experiment config file (YAML): a name, an image and an entrypoint are required. */
export const experimentConfigSchema = z.strictObject({
  ...commonConfig,
  name: commonConfig.name.unwrap(),
  image: imageSchema,
  entrypoint: commandSchema,
});

export const commandConfigSchema = z.strictObject({ ...commonConfig, entrypoint: commandSchema });
export const notebookConfigSchema = z.strictObject(commonConfig);
export const shellConfigSchema = z.strictObject(commonConfig);
export const tensorboardConfigSchema = z.strictObject({
  ...commonConfig,
  experiment_ids: z
    .array(z.number().int().positive(), { error: 'experiment_ids must be a list of experiment ids' })
    .min(1, 'a tensorboard needs at least one experiment')
    .max(64),
});

export const TASK_CONFIG_SCHEMAS = {
  experiment: experimentConfigSchema,
  command: commandConfigSchema,
  notebook: notebookConfigSchema,
  shell: shellConfigSchema,
  tensorboard: tensorboardConfigSchema,
} as const;

export type TaskConfigInput = z.input<(typeof TASK_CONFIG_SCHEMAS)[TaskKind]>;

/**
 * The config as the owner asked for it, validated, with the master's defaults (name, image,
 * entrypoint) filled in. What runs is the task's run spec, which admission made from it.
 */
export interface TaskConfig {
  name: string;
  description?: string;
  group?: string;
  pool?: string;
  image: string;
  entrypoint: string[];
  resources: ResourceRequest;
  bind_mounts: BindMountRequest[];
  default_mounts?: boolean;
  environment: Record<string, string>;
  cap_add?: string[];
  port?: number;
  max_restarts: number;
  experiment_ids?: number[];
  priority?: number;
  preemptible?: boolean;
}

/**
 * POST /tasks and /tasks/dry-run: the config is an object, or YAML text that the master parses
 * (safely) itself; `group` and `pool` (the CLI's `--group`, `--pool`) win over the config's own.
 */
export const createTaskSchema = z.strictObject({
  kind: z.enum(TASK_KINDS, { error: `kind must be one of: ${TASK_KINDS.join(', ')}` }),
  config: z.union([z.record(z.string(), z.unknown()), z.string().max(MAX_CONFIG_BYTES)], {
    error: `config must be an object or YAML text of at most ${MAX_CONFIG_BYTES} bytes`,
  }),
  group: groupPathSchema.optional(),
  /** The CLI's `--pool`: wins over the config's `pool:`, the group's default pool and the system's. */
  pool: poolNameSchema.optional(),
  /** The CLI's `--priority`: wins over the config's `priority:`. */
  priority: prioritySchema.optional(),
  /** The CLI's `--no-preempt` (false): wins over the config's `preemptible:`. */
  preemptible: z.boolean({ error: 'preemptible must be true or false' }).optional(),
});
export type CreateTaskRequest = z.input<typeof createTaskSchema>;

/** What `POST /tasks/dry-run` answers: the task that would be created and its run spec; nothing is stored. */
export interface TaskPlan {
  kind: TaskKind;
  name: string;
  owner: string;
  group: string | null;
  /** The resource pool it would be submitted to. */
  pool: string;
  config: TaskConfig;
  runSpec: RunSpec;
}

export const patchTaskSchema = z
  .strictObject({
    name: taskNameSchema.optional(),
    description: textSchema('description', 4096).optional(),
  })
  .refine((b) => b.name !== undefined || b.description !== undefined, 'nothing to change: give name or description');

const booleanQuery = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1');

/**
 * `GET /tasks`: newest first, keyset-paginated. Filters are done by the master and combine: `state`
 * (comma-separated), `owner` (implies everyone's), `group` (charged to exactly that group), `since`
 * and `until` (created in that period: a duration back from now or a date), `name` (a glob: `*`
 * any run of characters, `?` one; case-insensitive).
 */
export const taskListQuerySchema = z.strictObject({
  kind: z.enum(TASK_KINDS, { error: `kind must be one of: ${TASK_KINDS.join(', ')}` }).optional(),
  all: booleanQuery.default(false),
  limit: z.coerce.number({ error: 'limit must be a number' }).int().min(1).max(500).default(50),
  after: z.string().max(200).optional(),
  state: taskStatesSchema.optional(),
  owner: usernameSchema.optional(),
  group: groupPathSchema.optional(),
  since: periodBoundSchema.optional(),
  until: periodBoundSchema.optional(),
  name: z.string().max(256, 'name: a glob of at most 256 characters').refine((v) => !CONTROL_CHARACTER.test(v), controlCharMessage('name')).optional(),
  /** Tasks of this pool (TaskSummary.pool). */
  pool: z.string().trim().min(1).max(64, 'pool: at most 64 characters').refine((v) => !CONTROL_CHARACTER.test(v), controlCharMessage('pool')).optional(),
});
/** What clients send: `state` comma-separated, times as period bounds (`1d`, a date). */
export interface TaskListQuery {
  kind?: TaskKind;
  all?: boolean;
  limit?: number;
  after?: string;
  state?: string;
  owner?: string;
  group?: string;
  since?: string;
  until?: string;
  name?: string;
  pool?: string;
}

export const taskIdParamSchema = z.strictObject({
  id: z.coerce.number({ error: 'task id must be a number' }).int('task id must be a whole number').positive('task id must be positive').max(Number.MAX_SAFE_INTEGER),
});

/** What a client last saw of a task's status (`taskStatusKey`): a long poll answers once the task's differs. */
const seenSchema = z.string().max(300, 'seen: at most 300 characters').optional();

export const logQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  /** Seconds to hold the request open when there is nothing new yet (for `logs -f`). */
  wait: z.coerce.number().int().min(0).max(60).default(0),
  /** With `wait`: answer also as soon as the task's status key is no longer this (it started, its pending reason changed, a kill was asked). */
  seen: seenSchema,
  /** Only the last this many lines (of those `since` allows, after `after`); the page's `next` goes on from there. */
  tail: z.coerce.number({ error: 'tail must be a number of lines' }).int().min(1).max(5000).optional(),
  /** Only lines written at or after this: an ISO time, or a duration back from now on the master's clock (10m, 2h, 1d). */
  since: z.string({ error: 'since must be an ISO time or a duration such as 10m' }).max(64).optional(),
});

/** `GET /tasks/:id`: with `wait` and `seen`, a long poll that answers once the task's status key differs from `seen` (or it ended). */
export const taskGetQuerySchema = z.strictObject({
  wait: z.coerce.number({ error: 'wait must be a number of seconds' }).int().min(0).max(60).default(0),
  seen: seenSchema,
});

/** What lists show of a task: no config, which may hold paths and environment values. */
export interface TaskSummary {
  id: number;
  kind: TaskKind;
  owner: string;
  state: TaskState;
  name: string;
  /** The group it was created in (its path then), or null. */
  group: string | null;
  /** The resource pool it was submitted to (master.yaml `pools`). */
  pool: string;
  runAs: UnixIdentity;
  agent: string | null;
  exitCode: number | null;
  restarts: number;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /**
   * Why a QUEUED task waits (PENDING_REASONS, e.g. `QUOTA_RUNNING_USER`, `QUOTA_GPUS_GROUP:research`), or why an
   * ASSIGNED one has not started where its pool's engine holds it (`SLURM:Resources`); null otherwise.
   */
  pendingReason: string | null;
  /**
   * A kill was asked (it stays once the task ended): when, by whom and why. The state stays what
   * it is until the agent reports the task KILLED; lists show such a task as KILLING (`displayState`).
   */
  killRequest: KillRequest | null;
  /** What its run spec holds: GPUs, CPUs (null: no limit, counted as one), memory in bytes (null: no limit). */
  resources: { gpus: number; cpu: number | null; memory: number | null };
  /** Its place in its owner's own queue (`--priority`; higher first). */
  priority: number;
  /** False (`--no-preempt`): never preempted, and so never borrows beyond its group's guarantee. */
  preemptible: boolean;
  /** How many times it was preempted (stopped and queued again to give borrowed capacity back). */
  preemptions: number;
}

export interface KillRequest {
  at: string;
  /** The user who asked; null when the master itself did (`reason` says why: RUNTIME_LIMIT, idle). */
  by: string | null;
  /** The master's reason (`RUNTIME_LIMIT: ...`, `idle for 4h...`, `PREEMPTED: ...`); null for a user's kill. */
  reason: string | null;
  /** A preemption: the task is stopped the same way and then queued again (not KILLED); lists show PREEMPTING. */
  preempt?: boolean;
}

/** One entry of a task's history (`GET /tasks/:id/timeline`): a state it entered, why it waits, a kill asked for. */
export interface TaskTimelineEntry {
  at: string;
  /** `state`: it entered `state`; `waiting`: the scheduler's pending reason changed (detail, or null: its turn); `kill_requested`. */
  event: 'state' | 'waiting' | 'kill_requested';
  state: TaskState;
  detail: string | null;
}

export interface Task extends TaskSummary {
  config: TaskConfig;
  /** What the agent executes, as admission decided it when the task was created. */
  runSpec: RunSpec;
  updatedAt: string;
  killRequested: boolean;
  /** Why it failed, was lost or restarted, when the master knows. */
  message: string | null;
  /** What its pool's manager placed the current run as, beyond the agent (`slurm job 4711`); null for agents pools. */
  placement: string | null;
}

export interface TaskLogLine {
  seq: number;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
  time: string;
}

export interface TaskLogPage {
  items: TaskLogLine[];
  /** Pass as `after` to get what comes next. */
  next: number;
  state: TaskState;
  /** The task's status with the page, so that a follower can say why it waits (`taskStatusKey`). */
  pendingReason: string | null;
  agent: string | null;
  killRequest: KillRequest | null;
  /** True once the task has ended and every line has been served. */
  done: boolean;
}
