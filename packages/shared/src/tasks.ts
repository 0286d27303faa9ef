import { z } from 'zod';
import { CONTROL_CHARACTER, IDENTITY_KEYS, MAX_CONFIG_BYTES, PRIVILEGE_KEYS, TASK_KINDS, type TaskKind, type TaskState } from './constants.js';
import { parseByteSize } from './byte-size.js';
import { controlCharMessage, taskNameSchema, textSchema } from './text.js';
import type { UnixIdentity } from './users.js';



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

export const resourcesSchema = z.strictObject({
  slots: z.number({ error: 'resources.slots must be a number' }).int('resources.slots must be a whole number').min(0, 'resources.slots cannot be negative').max(64).default(0),
  cpu: z.number({ error: 'resources.cpu must be a number' }).positive('resources.cpu must be more than 0').max(1024).optional(),
  memory: memorySchema.optional(),
});
export type Resources = z.output<typeof resourcesSchema>;

const absolutePath = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1)
    .max(4096)
    .refine((p) => p.startsWith('/'), `${what} must be an absolute path (starting with "/")`)
    .refine((p) => !p.split('/').includes('..'), `${what} must not contain ".."`)
    .refine((p) => !p.includes(':'), `${what} must not contain ":"`)
    .refine((p) => !CONTROL_CHARACTER.test(p), controlCharMessage(what));

export const bindMountSchema = z.strictObject({
  host_path: absolutePath('bind_mounts.host_path'),
  container_path: absolutePath('bind_mounts.container_path'),
  read_only: z.boolean({ error: 'bind_mounts.read_only must be true or false' }).default(false),
});
/** A bind mount as a task config asks for it. */
export type BindMountRequest = z.output<typeof bindMountSchema>;
/** A bind mount as admitted and stored with the task. */
export interface BindMount extends BindMountRequest {
  /**
   * The directory of the policy rule that admitted it (the pattern, expanded): the agent refuses a
   * host path whose real path (symlinks followed) leaves it. Tasks stored before 0.2 lack it.
   */
  allowed_root?: string;
}

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

/** Everything every kind of task may configure. Unknown keys are refused, so typos are caught. */
const commonConfig = {
  name: taskNameSchema.optional(),
  description: textSchema('description', 4096).optional(),
  image: imageSchema.optional(),
  entrypoint: commandSchema.optional(),
  resources: resourcesSchema.prefault({}),
  bind_mounts: z.array(bindMountSchema, { error: 'bind_mounts must be a list' }).max(64).default([]),
  environment: environmentSchema.default({}),
  max_restarts: z.number({ error: 'max_restarts must be a number' }).int().min(0, 'max_restarts cannot be negative').max(100).default(0),
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

/** The config as stored and run: every default filled in by the master. */
export interface TaskConfig {
  name: string;
  description?: string;
  image: string;
  entrypoint: string[];
  resources: Resources;
  bind_mounts: BindMount[];
  environment: Record<string, string>;
  max_restarts: number;
  experiment_ids?: number[];
}

/** POST /tasks: the config is an object, or YAML text that the master parses (safely) itself. */
export const createTaskSchema = z.strictObject({
  kind: z.enum(TASK_KINDS, { error: `kind must be one of: ${TASK_KINDS.join(', ')}` }),
  config: z.union([z.record(z.string(), z.unknown()), z.string().max(MAX_CONFIG_BYTES)], {
    error: `config must be an object or YAML text of at most ${MAX_CONFIG_BYTES} bytes`,
  }),
});
export type CreateTaskRequest = z.input<typeof createTaskSchema>;

export const patchTaskSchema = z
  .strictObject({
    name: taskNameSchema.optional(),
    description: textSchema('description', 4096).optional(),
  })
  .refine((b) => b.name !== undefined || b.description !== undefined, 'nothing to change: give name or description');

const booleanQuery = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1');

export const taskListQuerySchema = z.strictObject({
  kind: z.enum(TASK_KINDS, { error: `kind must be one of: ${TASK_KINDS.join(', ')}` }).optional(),
  all: booleanQuery.default(false),
  limit: z.coerce.number({ error: 'limit must be a number' }).int().min(1).max(500).default(50),
  after: z.string().max(200).optional(),
});

export const taskIdParamSchema = z.strictObject({
  id: z.coerce.number({ error: 'task id must be a number' }).int('task id must be a whole number').positive('task id must be positive').max(Number.MAX_SAFE_INTEGER),
});

export const logQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  /** Seconds to hold the request open when there is nothing new yet (for `logs -f`). */
  wait: z.coerce.number().int().min(0).max(60).default(0),
});

/** What lists show of a task: no config, which may hold paths and environment values. */
export interface TaskSummary {
  id: number;
  kind: TaskKind;
  owner: string;
  state: TaskState;
  name: string;
  runAs: UnixIdentity;
  agent: string | null;
  exitCode: number | null;
  restarts: number;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

export interface Task extends TaskSummary {
  config: TaskConfig;
  updatedAt: string;
  killRequested: boolean;
  /** Why it failed, was lost or restarted, when the master knows. */
  message: string | null;
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
  /** True once the task has ended and every line has been served. */
  done: boolean;
}
