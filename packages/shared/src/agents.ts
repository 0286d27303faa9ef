import { z } from 'zod';
import { AGENT_ID_PATTERN, AGENT_REPORTED_STATES, EXECUTORS, LOG_STREAMS, type ExecutorName } from './constants.js';
import type { TaskKind, TaskState } from './constants.js';
import type { StreamTarget } from './interactive.js';
import type { RunSpec } from './run-spec.js';
import { textSchema } from './text.js';
import { poolNameSchema } from './tasks.js';


export const agentIdSchema = z
  .string({ error: 'agent id must be a string' })
  .regex(AGENT_ID_PATTERN, 'agent id must be 1-64 characters of letters, digits, ".", "_" or "-"');

export const gpuSchema = z.strictObject({
  index: z.number().int().min(0),
  uuid: z.string().max(128).optional(),
  name: textSchema('GPU name', 256),
  memoryBytes: z.number().int().min(0).optional(),
});

export const agentResourcesSchema = z.strictObject({
  cpus: z.number().int().min(1).max(4096),
  memoryBytes: z.number().int().min(0),
  gpus: z.array(gpuSchema).max(64).default([]),
});
export type AgentResources = z.output<typeof agentResourcesSchema>;


export const leaseRefSchema = z.strictObject({
  taskId: z.number().int().positive(),
  leaseId: z.string().min(1).max(64),
});
export type LeaseRef = z.infer<typeof leaseRefSchema>;

/**
 * The image references an agent has (tags and digests, as its engine names them), so that the
 * master can refuse a task under `images.pull: never` that no agent could run and place one only
 * where its image is. null: the agent runs any image reference (the process executor ignores images).
 */
export const agentImagesSchema = z.array(z.string().min(1).max(512)).max(10_000).nullable();
export type AgentImages = z.output<typeof agentImagesSchema>;

/**
 * Labels under `trainyard.` are the agent's own, never given by `--label`: `trainyard.shared-root: yes`
 * says the agent has a `--shared-root`, so the scheduler sends it tasks that mount a group's shared
 * directory (elsewhere they wait as NO_AGENT_FITS rather than fail).
 */
export const RESERVED_LABEL_PREFIX = 'trainyard.';

/**
 * How agents retry a master they cannot reach: exponential backoff with full jitter, the n-th retry
 * after a delay drawn uniformly from [0, min(maxMs, initialMs x 2^(n-1))), reset once it answers.
 * So a restarted master meets its agents spread over up to `maxMs`, not all at once; and it waits
 * that much longer (besides `agents.lost_timeout`) before it calls an agent from before its start lost.
 */
export const AGENT_RECONNECT = { initialMs: 1000, maxMs: 30_000 } as const;
export const SHARED_ROOT_LABEL = 'trainyard.shared-root';

/**
 * A one-shot agent runs inside the job a resource manager submitted for one task (Slurm), as the
 * task's user, and serves that task only: its id is `task-<id>`, it registers with a token valid
 * only for that task's lease, and the master labels it `trainyard.task: <id>` and never gives it
 * other work. See docs/architecture.md, "Slurm".
 */
export const ONE_SHOT_LABEL = 'trainyard.task';
export const oneShotAgentId = (taskId: number) => `task-${taskId}`;

export const registerAgentSchema = z.strictObject({
  executor: z.enum(EXECUTORS),
  resources: agentResourcesSchema,
  labels: z.record(textSchema('label name', 64), textSchema('label value', 256)).default({}),
  version: textSchema('version', 64).default('unknown'),
  /** Left out (agents before 0.3): not known, so treated as null (the agent fails a task whose image it lacks). */
  images: agentImagesSchema.optional(),
  /** The pool it serves (`yard-agent --pool`); left out (agents before pools): `default`. */
  pool: poolNameSchema.optional(),
});
export type RegisterAgentRequest = z.input<typeof registerAgentSchema>;

export const heartbeatSchema = z.strictObject({
  running: z.array(leaseRefSchema).max(10_000).default([]),
  /**
   * The master's `at` from the last answer the agent had received before it listed `running`.
   * Every lease acknowledged before that moment was tracked before the list was taken, so the
   * master ends only those as missing; without it, nothing is ended.
   */
  listedAfter: z.number().int().nonnegative().optional(),
  /** Sent when the agent's images changed since it last said. */
  images: agentImagesSchema.optional(),
});

export const pollQuerySchema = z.strictObject({
  wait: z.coerce.number().int().min(0).max(60).default(25),
});

export const ackSchema = z.strictObject({ leaseId: z.string().min(1).max(64) });

export const reportStateSchema = z.strictObject({
  leaseId: z.string().min(1).max(64),
  state: z.enum(AGENT_REPORTED_STATES),
  exitCode: z.number().int().min(-1024).max(1024).optional(),
  message: z.string().max(4096).optional(),
});
export type ReportStateRequest = z.input<typeof reportStateSchema>;

export const agentLogsSchema = z.strictObject({
  leaseId: z.string().min(1).max(64),
  /** How many lines of this run the agent had sent before this batch: retries are deduplicated by it. */
  offset: z.number().int().min(0),
  lines: z
    .array(z.strictObject({ stream: z.enum(LOG_STREAMS), line: z.string().max(64 * 1024) }))
    .max(5000),
});
export type AgentLogsRequest = z.input<typeof agentLogsSchema>;

/** An acknowledged lease the agent gives back without having started anything: the task is queued again. */
export const releaseSchema = z.strictObject({
  leaseId: z.string().min(1).max(64),
  reason: z.string().max(1024),
});
export type ReleaseRequest = z.input<typeof releaseSchema>;

/** A stream the agent was asked for and could not connect (the task's port refused, no such run...): why. */
export const streamFailureSchema = z.strictObject({
  message: z.string().min(1).max(1024),
});
export type StreamFailureRequest = z.input<typeof streamFailureSchema>;

export const agentTaskParamsSchema = z.strictObject({
  id: agentIdSchema,
  taskId: z.coerce.number().int().positive(),
});

/** What an agent is handed for one lease: the task's stored run spec, with the lease it runs under. */
export interface TaskRunSpec extends RunSpec {
  taskId: number;
  leaseId: string;
  kind: TaskKind;
  name: string;
}

export type AgentAction =
  | { type: 'start'; spec: TaskRunSpec }
  | { type: 'kill'; taskId: number; leaseId: string; graceMs: number }
  /**
   * Dial back `GET /agents/:id/streams/:streamId` (a WebSocket) and pipe it to the task's port or
   * a command run inside it: how the master reaches a task's service or shell without any port
   * of the agent being reachable.
   */
  | { type: 'open'; streamId: string; taskId: number; leaseId: string; target: StreamTarget };

export interface PollResponse {
  actions: AgentAction[];
}

/** A task the master believes runs on the agent (for reconciliation after restarts). */
export interface KnownTask {
  taskId: number;
  leaseId: string;
  state: TaskState;
  acknowledged: boolean;
  logOffset: number;
  killRequested: boolean;
}

export interface RegisterAgentResponse {
  heartbeatIntervalMs: number;
  known: KnownTask[];
  /** The master's clock when it answered: echoed as a heartbeat's `listedAfter`. */
  at: number;
}

export interface HeartbeatResponse {
  known: KnownTask[];
  /** The master's clock when it answered: echoed as the next heartbeat's `listedAfter`. */
  at: number;
}

export const AGENT_STATES = ['alive', 'lost'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

export interface Agent {
  id: string;
  /** The pool it serves (`yard-agent --pool`; `default` unless it names one). */
  pool: string;
  state: AgentState;
  enabled: boolean;
  executor: ExecutorName;
  resources: AgentResources;
  labels: Record<string, string>;
  version: string;
  registeredAt: string;
  lastHeartbeatAt: string;
  runningTasks: number[];
}

export const patchAgentSchema = z.strictObject({
  enabled: z.boolean({ error: 'enabled must be true or false' }),
});

export const agentTokenNameSchema = z
  .string({ error: 'name must be a string' })
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'token name must be 1-64 characters of a-z, 0-9, ".", "_" or "-"');
export const createAgentTokenSchema = z.strictObject({ name: agentTokenNameSchema });

export interface AgentTokenInfo {
  id: number;
  name: string;
  createdBy: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface CreatedAgentToken extends AgentTokenInfo {
  /** Shown once; the master keeps only its hash. */
  token: string;
}
