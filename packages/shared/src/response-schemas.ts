/**
 * zod schemas of the main answers, for the master's OpenAPI document (`/api/v1/openapi.json`):
 * the version, users, tasks, their logs, agents, and the error body every refusal has. The API's
 * answers are TypeScript types (clients load no zod); each schema here is checked at compile time
 * to describe exactly its type (`Same` below), so neither can change without the other. Answers
 * without one here are documented as untyped objects, pointing at `EndpointTypes`.
 */
import { z } from 'zod';
import { AGENT_STATES, agentResourcesSchema, type Agent } from './agents.js';
import { AUTH_BACKENDS, EXECUTORS, LOG_STREAMS, TASK_KINDS, TASK_STATES } from './constants.js';
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from './errors.js';
import type { Page } from './pagination.js';
import type { RunSpec } from './run-spec.js';
import type { KillRequest, Task, TaskConfig, TaskLogPage, TaskSummary } from './tasks.js';
import type { User } from './users.js';
import { unixIdentitySchema } from './users.js';
import type { MasterVersion } from './version.js';

/** True when A and B are each assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(): T | undefined => undefined;

const iso = z.string().meta({ format: 'date-time' });
const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next: z.string().nullable().meta({ description: 'cursor for the next page (`?after=`), null on the last' }) });

export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    requestId: z.string().optional(),
    details: z.unknown().optional().meta({ description: 'field problems for INVALID_INPUT; {rule, layer} for POLICY_DENIED; {quota, resource, used, limit} for QUOTA_EXCEEDED' }),
  }),
});
same<Same<Omit<z.infer<typeof errorBodySchema>['error'], 'details'>, Omit<ErrorBody['error'], 'details'>>>();

export const masterVersionSchema = z.object({ version: z.string(), apiVersion: z.number().int() });
same<Same<z.infer<typeof masterVersionSchema>, MasterVersion>>();

export const userSchema = z.object({
  id: z.number().int(),
  username: z.string(),
  admin: z.boolean(),
  active: z.boolean(),
  roles: z.array(z.object({ role: z.string(), scope: z.string().nullable() })),
  groups: z.array(z.string()),
  auth: z.enum(AUTH_BACKENDS),
  agentUser: unixIdentitySchema.nullable(),
  defaultGroup: z.string().nullable(),
  createdAt: iso,
  updatedAt: iso,
});
same<Same<z.infer<typeof userSchema>, User>>();

const killRequestSchema = z.object({
  at: iso,
  by: z.string().nullable(),
  reason: z.string().nullable(),
  preempt: z.boolean().optional().meta({ description: 'a preemption: stopped, then queued again' }),
});
same<Same<z.infer<typeof killRequestSchema>, KillRequest>>();

export const taskSummarySchema = z.object({
  id: z.number().int(),
  kind: z.enum(TASK_KINDS),
  owner: z.string(),
  state: z.enum(TASK_STATES),
  name: z.string(),
  group: z.string().nullable(),
  pool: z.string(),
  runAs: unixIdentitySchema,
  agent: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  restarts: z.number().int(),
  createdAt: iso,
  startedAt: iso.nullable(),
  endedAt: iso.nullable(),
  pendingReason: z.string().nullable(),
  killRequest: killRequestSchema.nullable(),
  resources: z.object({ gpus: z.number().int(), cpu: z.number().nullable(), memory: z.number().nullable() }),
  priority: z.number().int(),
  preemptible: z.boolean(),
  preemptions: z.number().int(),
});
same<Same<z.infer<typeof taskSummarySchema>, TaskSummary>>();

// The config and run spec are documented in the README (task configs) and run-spec.ts: objects here.
const taskConfig = z.custom<TaskConfig>().meta({ type: 'object', description: 'the validated config, with the master\'s defaults filled in' });
const runSpec = z.custom<RunSpec>().meta({ type: 'object', description: 'what the agent executes, as admission decided it (RunSpec)' });

export const taskSchema = taskSummarySchema.extend({
  config: taskConfig,
  runSpec,
  updatedAt: iso,
  killRequested: z.boolean(),
  message: z.string().nullable(),
  placement: z.string().nullable(),
});
same<Same<z.infer<typeof taskSchema>, Task>>();

export const taskLogPageSchema = z.object({
  items: z.array(z.object({ seq: z.number().int(), stream: z.enum(LOG_STREAMS), line: z.string(), time: iso })),
  next: z.number().int(),
  state: z.enum(TASK_STATES),
  pendingReason: z.string().nullable(),
  agent: z.string().nullable(),
  killRequest: killRequestSchema.nullable(),
  done: z.boolean(),
});
same<Same<z.infer<typeof taskLogPageSchema>, TaskLogPage>>();

export const agentSchema = z.object({
  id: z.string(),
  pool: z.string(),
  state: z.enum(AGENT_STATES),
  enabled: z.boolean(),
  executor: z.enum(EXECUTORS),
  resources: agentResourcesSchema,
  labels: z.record(z.string(), z.string()),
  version: z.string(),
  registeredAt: iso,
  lastHeartbeatAt: iso,
  runningTasks: z.array(z.number().int()),
});
same<Same<z.output<typeof agentSchema>, Agent>>();

export const userPageSchema = page(userSchema);
export const taskSummaryPageSchema = page(taskSummarySchema);
export const agentPageSchema = page(agentSchema);
same<Same<z.infer<typeof userPageSchema>, Page<User>>>();
same<Same<z.infer<typeof taskSummaryPageSchema>, Page<TaskSummary>>>();
same<Same<z.output<typeof agentPageSchema>, Page<Agent>>>();
