import bytes from 'bytes';
import { z } from 'zod';
import { roleNameSchema, unixIdentitySchema } from '@trainyard/shared';
import { durationSchema } from './duration.js';

const byteSizeSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const size = typeof value === 'number' ? value : bytes.parse(value);
  if (size === null || !Number.isInteger(size) || size <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a size such as "1mb" or "512kb"` });
    return z.NEVER;
  }
  return size;
});

/**
 * `master.yaml`: one schema, every default here. Unknown keys are errors, so a typo
 * stops the master instead of being silently ignored.
 */
export const masterConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
    })
    .prefault({}),
  db: z
    .strictObject({
      /** Relative paths are resolved against the directory of master.yaml. */
      path: z.string().min(1).default('./data/trainyard.db'),
    })
    .prefault({}),
  security: z
    .strictObject({
      session_ttl: durationSchema.default(30 * 24 * 3600 * 1000),
      /** Who tasks run as when their owner has no agent-user link. */
      default_task: unixIdentitySchema.default({ user: 'root', uid: 0, group: 'root', gid: 0 }),
      /** Admin's password on first start; blank when unset, as in PEDL. */
      initial_admin_password: z.string().optional(),
      /** The role every new user is given; it must exist when the master starts. */
      default_role: roleNameSchema.default('user'),
      password_policy: z
        .strictObject({
          min_length: z.number().int().min(0).max(1024).default(0),
        })
        .prefault({}),
      login_throttle: z
        .strictObject({
          max_failures_per_user: z.number().int().min(1).default(5),
          max_failures_per_address: z.number().int().min(1).default(30),
          window: durationSchema.default(15 * 60 * 1000),
        })
        .prefault({}),
    })
    .prefault({}),
  agents: z
    .strictObject({
      /** How often agents say they are alive. */
      heartbeat_interval: durationSchema.default(5_000),
      /** An agent silent this long is lost, and its tasks with it. */
      lost_timeout: durationSchema.default(20_000),
      /** An assignment not acknowledged this long goes back to the queue. */
      lease_timeout: durationSchema.default(30_000),
      /** How long a running task gets between SIGTERM and SIGKILL when killed. */
      kill_grace: durationSchema.default(10_000),
      /** Whether agents may pull images they lack (off: only images present on the machine run). */
      allow_pull: z.boolean().default(false),
      /**
       * A token file for agents on this machine (relative to master.yaml): created with a random
       * token on first start if missing; `yard-agent --token-file` reads the same file.
       */
      token_file: z.string().min(1).optional(),
    })
    .prefault({}),
  tasks: z
    .strictObject({
      /** Images for tasks whose config names none (experiments must name theirs). */
      images: z
        .strictObject({
          command: z.string().min(1).default('python:3.11-slim'),
          notebook: z.string().min(1).default('jupyter/base-notebook:latest'),
          tensorboard: z.string().min(1).default('tensorflow/tensorflow:latest'),
          shell: z.string().min(1).default('python:3.11-slim'),
        })
        .prefault({}),
    })
    .prefault({}),
  http: z
    .strictObject({
      body_limit: byteSizeSchema.default(1024 * 1024),
      /** The built web UI (packages/web/dist by default); relative to master.yaml. */
      web_root: z.string().min(1).optional(),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type MasterConfig = z.output<typeof masterConfigSchema>;
export type MasterConfigInput = z.input<typeof masterConfigSchema>;
