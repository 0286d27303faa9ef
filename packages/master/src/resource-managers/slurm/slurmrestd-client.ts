import type { SlurmJwt } from './slurm-jwt.js';

/**
 * slurmrestd, the REST API of a Slurm cluster (openapi/v0.0.38, Slurm 22.05 and later), behind an
 * interface of only what Trainyard uses: submit a job as a user, read one job or all, cancel or
 * signal one, release a held one, and the cluster's nodes and partitions for capacity. Results are
 * typed and normalised (times in epoch ms, exit statuses decoded, unknowns as null); every refusal
 * is a SlurmError carrying Slurm's own words.
 */
export interface SlurmRestClient {
  /** Submits a batch job to run as `user` (a name; Slurm resolves it); the new job's id. */
  submit(user: string, submission: SlurmJobSubmission): Promise<number>;
  /** One job, or undefined when Slurm no longer knows it (ended more than MinJobAge ago, or never was). */
  job(id: number): Promise<SlurmJob | undefined>;
  /** Every job Slurm still knows (running, pending, and ended within MinJobAge), or those whose name starts with `namePrefix`. */
  jobs(filter?: { namePrefix?: string }): Promise<SlurmJob[]>;
  /**
   * Cancels a job as scancel does: SIGTERM to its processes, SIGKILL after the cluster's KillWait;
   * it ends CANCELLED. False when Slurm no longer knows the job.
   */
  cancel(id: number): Promise<boolean>;
  /** Sends a job's processes a signal without cancelling it (scancel --signal); the job ends as they do. False when Slurm no longer knows it. */
  signal(id: number, signal: SlurmSignal): Promise<boolean>;
  /** Lets a job submitted with `hold: true` be scheduled. */
  release(id: number): Promise<void>;
  nodes(): Promise<SlurmNode[]>;
  /** One partition, or undefined when there is no such partition. */
  partition(name: string): Promise<SlurmPartition | undefined>;
}

export type SlurmSignal = 'TERM' | 'KILL' | 'INT' | 'HUP' | 'USR1' | 'USR2' | 'CONT' | 'STOP';

/** The job description Trainyard sends (`POST /job/submit`): a typed subset of v0.0.38's job_properties. */
export interface SlurmJobProperties {
  name: string;
  comment?: string;
  partition?: string;
  account?: string;
  /** Cores for the job's one task. */
  cpus_per_task?: number;
  /** MB (MiB) of memory on the node. */
  memory_per_node?: number;
  /** Generic resources, `gpu:2`; Slurm records it as tres_per_node `gres:gpu:2`. */
  gres?: string;
  /** Minutes; Slurm ends the job (TIMEOUT) when it is up. */
  time_limit?: number;
  /** The job's whole environment: nothing of slurmrestd's or the submitter's leaks in (--export=NONE). */
  environment: Record<string, string>;
  current_working_directory: string;
  standard_output?: string;
  standard_error?: string;
  /** Trainyard decides restarts itself: a job must never run twice behind its back. */
  requeue?: boolean;
  /** Submitted held (priority 0): nothing runs until `release`. */
  hold?: boolean;
  nodes?: [number, number];
  tasks?: number;
}

export interface SlurmJobSubmission {
  /** The batch script, `#!/bin/sh` first. */
  script: string;
  job: SlurmJobProperties;
}

/** Slurm's job states (job_state), base states only. */
export const SLURM_ENDED_STATES = ['COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'OUT_OF_MEMORY'] as const;
export type SlurmJobState = 'PENDING' | 'RUNNING' | 'SUSPENDED' | (typeof SLURM_ENDED_STATES)[number] | (string & {});

export const slurmJobEnded = (state: SlurmJobState) => (SLURM_ENDED_STATES as readonly string[]).includes(state);

export interface SlurmJob {
  id: number;
  name: string;
  comment: string;
  state: SlurmJobState;
  /** Why it waits or how it ended, in Slurm's words (Resources, Priority, TimeLimit...); null for "None". */
  reason: string | null;
  /** The user Slurm runs it as: null name when slurmrestd could not resolve the submitted name (uid 99). */
  user: { name: string | null; uid: number };
  gid: number;
  partition: string;
  /** The batch script's exit: a status, or the signal that ended it; null while it has not ended. */
  exit: { status: number; signal: null } | { status: null; signal: number } | null;
  submittedAt: number;
  /** Epoch ms; null while pending (Slurm's own figure then is only an estimate). */
  startedAt: number | null;
  /** Epoch ms; null until it ended. */
  endedAt: number | null;
  /** Minutes; null for none. */
  timeLimitMinutes: number | null;
  /** The node it runs or ran on; null while pending. */
  node: string | null;
  /** How often Slurm requeued it (a launch that failed on the node, say). */
  restarts: number;
}

export interface SlurmNode {
  name: string;
  /** idle, mixed, allocated, down, drained... with flags (DRAIN...) in `flags`. */
  state: string;
  flags: string[];
  cpus: number;
  allocatedCpus: number;
  /** MB. */
  memory: number;
  allocatedMemory: number;
  gpus: number;
  allocatedGpus: number;
  partitions: string[];
  reason: string | null;
}

export interface SlurmPartition {
  name: string;
  state: string;
  nodes: string[];
  totalCpus: number;
  totalNodes: number;
  /** Minutes; null for none (INFINITE). */
  maxTimeMinutes: number | null;
  defaultTimeMinutes: number | null;
}

/** What Slurm said when it refused, or why slurmrestd could not be asked. */
export class SlurmError extends Error {
  override name = 'SlurmError';
  constructor(
    message: string,
    /** unreachable: no answer (worth retrying); refused: Slurm said no (its errors below); protocol: an answer that is no Slurm answer. */
    readonly kind: 'unreachable' | 'refused' | 'protocol',
    /** Slurm's errors, as it gave them: its error number (2017: invalid job id...) and text. */
    readonly errors: ReadonlyArray<{ number: number | null; message: string }> = [],
    readonly status?: number,
  ) {
    super(message);
  }

  /** Slurm's error numbers (slurm_errno.h) the client looks for. */
  static readonly INVALID_JOB_ID = 2017;
  static readonly INVALID_PARTITION = 2000;
  static readonly JOB_HELD = 2042;
}

const API = '/slurm/v0.0.38';
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * The client over HTTP with the global fetch. `url` is slurmrestd's base (http://host:6820); every
 * request carries a JWT (`X-SLURM-USER-TOKEN`) and the user it acts as (`X-SLURM-USER-NAME`): the
 * token's own user, except for a submission, which names the job's user.
 */
export function createSlurmRestClient(options: { url: string; jwt: SlurmJwt; tokenUser: string; timeoutMs?: number }): SlurmRestClient {
  const base = options.url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  /** `notErrors`: error numbers that are news, not refusals (a held submission "fails" with 2042 and a job id). */
  async function call<T>(
    what: string,
    method: string,
    path: string,
    { user = options.tokenUser, body, notErrors = [] }: { user?: string; body?: unknown; notErrors?: number[] } = {},
  ): Promise<T & V38Response> {
    let response: Response;
    try {
      response = await fetch(base + API + path, {
        method,
        headers: {
          'X-SLURM-USER-TOKEN': options.jwt.token(),
          'X-SLURM-USER-NAME': user,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: Error }).cause;
      throw new SlurmError(`slurmrestd at ${base} did not answer (${what}): ${cause?.message ?? (error as Error).message}`, 'unreachable');
    }
    const text = await response.text();
    let parsed: (T & V38Response) | undefined;
    try {
      parsed = JSON.parse(text) as T & V38Response;
    } catch {
      // Said below, with the status.
    }
    if (response.status === 401 || response.status === 403) {
      throw new SlurmError(`slurmrestd at ${base} refused the token (${what}): HTTP ${response.status}; check the pool's jwt_key_file and that slurm.conf has AuthAltTypes=auth/jwt`, 'refused', [], response.status);
    }
    if (!parsed || typeof parsed !== 'object') {
      throw new SlurmError(`slurmrestd at ${base} answered ${what} with HTTP ${response.status} that is not Slurm's JSON: ${text.slice(0, 200)}`, 'protocol', [], response.status);
    }
    const errors = (parsed.errors ?? [])
      .map((e) => ({ number: e.error_number ?? e.error_code ?? e.errno ?? null, message: [e.error, e.description].filter(Boolean).join(': ') || 'unknown error' }))
      .filter((e) => e.number === null || !notErrors.includes(e.number));
    if (errors.length > 0 || (response.status >= 400 && !(parsed.errors ?? []).length)) {
      const said = errors.map((e) => `${e.message}${e.number === null ? '' : ` (error ${e.number})`}`).join('; ') || `HTTP ${response.status}`;
      // slurmctld answers a token it cannot verify with nothing more than this.
      const hint = errors.some((e) => e.number === -1)
        ? "; Slurm says this when it rejects the JWT: check the pool's jwt_key_file against slurm.conf's jwt_key, and that the token's user is root or SlurmUser"
        : '';
      throw new SlurmError(`Slurm refused ${what}: ${said}${hint}`, 'refused', errors, response.status);
    }
    return parsed;
  }

  const unknownJob = (error: unknown) => error instanceof SlurmError && error.errors.some((e) => e.number === SlurmError.INVALID_JOB_ID);

  return {
    async submit(user, submission) {
      const answer = await call<{ job_id?: number }>(`the job '${submission.job.name}' for user '${user}'`, 'POST', '/job/submit', {
        user,
        body: submission,
        notErrors: [SlurmError.JOB_HELD],
      });
      if (typeof answer.job_id !== 'number') throw new SlurmError(`Slurm accepted the job '${submission.job.name}' but gave no job id`, 'protocol');
      return answer.job_id;
    },

    async job(id) {
      try {
        const answer = await call<{ jobs?: V38Job[] }>(`reading job ${id}`, 'GET', `/job/${id}`);
        const job = answer.jobs?.find((j) => j.job_id === id);
        return job && toJob(job);
      } catch (error) {
        if (unknownJob(error)) return undefined;
        throw error;
      }
    },

    async jobs(filter = {}) {
      const answer = await call<{ jobs?: V38Job[] }>('listing jobs', 'GET', '/jobs');
      const jobs = (answer.jobs ?? []).map(toJob);
      return filter.namePrefix === undefined ? jobs : jobs.filter((j) => j.name.startsWith(filter.namePrefix!));
    },

    async cancel(id) {
      try {
        await call(`cancelling job ${id}`, 'DELETE', `/job/${id}`);
        return true;
      } catch (error) {
        if (unknownJob(error)) return false;
        throw error;
      }
    },

    async signal(id, signal) {
      try {
        await call(`signalling job ${id} with SIG${signal}`, 'DELETE', `/job/${id}?signal=${signal}`);
        return true;
      } catch (error) {
        if (unknownJob(error)) return false;
        throw error;
      }
    },

    async release(id) {
      await call(`releasing job ${id}`, 'POST', `/job/${id}`, { body: { hold: false } });
    },

    async nodes() {
      const answer = await call<{ nodes?: V38Node[] }>('listing nodes', 'GET', '/nodes');
      return (answer.nodes ?? []).map(toNode);
    },

    async partition(name) {
      try {
        const answer = await call<{ partitions?: V38Partition[] }>(`reading partition '${name}'`, 'GET', `/partition/${encodeURIComponent(name)}`);
        const partition = answer.partitions?.find((p) => p.name === name);
        return partition && toPartition(partition);
      } catch (error) {
        if (error instanceof SlurmError && error.errors.some((e) => e.number === SlurmError.INVALID_PARTITION)) return undefined;
        throw error;
      }
    },
  };
}

/** The cluster's use in one partition: what its nodes have and what is allocated (down or drained nodes count as having nothing). */
export function partitionCapacity(partition: SlurmPartition, nodes: SlurmNode[]) {
  const members = nodes.filter((n) => partition.nodes.includes(n.name) || n.partitions.includes(partition.name));
  const usable = members.filter((n) => !/down|drain|fail|future|unknown/i.test([n.state, ...n.flags].join(' ')));
  const sum = (list: SlurmNode[], pick: (n: SlurmNode) => number) => list.reduce((total, n) => total + pick(n), 0);
  return {
    nodes: members.length,
    usableNodes: usable.length,
    cpus: sum(usable, (n) => n.cpus),
    allocatedCpus: sum(usable, (n) => n.allocatedCpus),
    memoryMb: sum(usable, (n) => n.memory),
    allocatedMemoryMb: sum(usable, (n) => n.allocatedMemory),
    gpus: sum(usable, (n) => n.gpus),
    allocatedGpus: sum(usable, (n) => n.allocatedGpus),
  };
}

// ---- v0.0.38's wire format, only the fields read here ----

interface V38Response {
  /** Slurm 22.05 spells the number three ways, by endpoint. */
  errors?: Array<{ error?: string; error_number?: number; error_code?: number; errno?: number; description?: string }>;
}

interface V38Job {
  job_id: number;
  name?: string | null;
  comment?: string | null;
  job_state?: string;
  state_reason?: string | null;
  user_id?: number;
  user_name?: string | null;
  group_id?: number;
  partition?: string | null;
  exit_code?: number | null;
  submit_time?: number;
  start_time?: number;
  end_time?: number;
  time_limit?: number | null;
  nodes?: string | null;
  batch_host?: string | null;
  restart_cnt?: number;
}

interface V38Node {
  name: string;
  state?: string;
  state_flags?: string[];
  cpus?: number;
  alloc_cpus?: number;
  real_memory?: number;
  alloc_memory?: number;
  gres?: string | null;
  gres_used?: string | null;
  partitions?: string[];
  reason?: string | null;
}

interface V38Partition {
  name: string;
  state?: string;
  nodes?: string | null;
  total_cpus?: number;
  total_nodes?: number;
  max_time_limit?: number | null;
  default_time_limit?: number | null;
}

// Slurm's "no value"/"infinite" markers for 32-bit fields, as the API passes them through.
const NO_VALUE = new Set([0xfffffffe, 0xffffffff, -1, -2]);
const minutes = (value: number | null | undefined) => (value === null || value === undefined || NO_VALUE.has(value) ? null : value);
const seconds = (value: number | undefined) => (value ? value * 1000 : null);

function toJob(job: V38Job): SlurmJob {
  const state = job.job_state ?? 'UNKNOWN';
  const ended = slurmJobEnded(state);
  const started = state !== 'PENDING' && (job.start_time ?? 0) > 0;
  return {
    id: job.job_id,
    name: job.name ?? '',
    comment: job.comment ?? '',
    state,
    reason: !job.state_reason || job.state_reason === 'None' ? null : job.state_reason,
    user: { name: job.user_name ?? null, uid: job.user_id ?? -1 },
    gid: job.group_id ?? -1,
    partition: job.partition ?? '',
    exit: ended ? decodeWaitStatus(job.exit_code ?? 0) : null,
    submittedAt: seconds(job.submit_time) ?? 0,
    startedAt: started ? seconds(job.start_time) : null,
    endedAt: ended ? seconds(job.end_time) : null,
    timeLimitMinutes: minutes(job.time_limit),
    node: started ? job.batch_host || job.nodes || null : null,
    restarts: job.restart_cnt ?? 0,
  };
}

/** The batch script's raw wait status, as Slurm keeps it: 768 is exit 3, 15 is SIGTERM. */
export function decodeWaitStatus(raw: number): NonNullable<SlurmJob['exit']> {
  const signal = raw & 0x7f;
  return signal === 0 ? { status: (raw >> 8) & 0xff, signal: null } : { status: null, signal };
}

/** GPUs in a gres string: `gpu:2`, `gpu:a100:4(S:0-1)`, `gpu:1(IDX:0),shard:8`; 0 when none. */
export function gpusInGres(gres: string | null | undefined): number {
  let count = 0;
  for (const item of (gres ?? '').split(/,(?![^(]*\))/)) {
    const match = /^gpu(?::[^:(]+)?:(\d+)/.exec(item.trim());
    if (match) count += Number(match[1]);
  }
  return count;
}

function toNode(node: V38Node): SlurmNode {
  return {
    name: node.name,
    state: node.state ?? 'unknown',
    flags: node.state_flags ?? [],
    cpus: node.cpus ?? 0,
    allocatedCpus: node.alloc_cpus ?? 0,
    memory: node.real_memory ?? 0,
    allocatedMemory: node.alloc_memory ?? 0,
    gpus: gpusInGres(node.gres),
    allocatedGpus: gpusInGres(node.gres_used),
    partitions: node.partitions ?? [],
    reason: node.reason || null,
  };
}

function toPartition(partition: V38Partition): SlurmPartition {
  return {
    name: partition.name,
    state: partition.state ?? 'UNKNOWN',
    nodes: expandHostList(partition.nodes ?? ''),
    totalCpus: partition.total_cpus ?? 0,
    totalNodes: partition.total_nodes ?? 0,
    maxTimeMinutes: minutes(partition.max_time_limit),
    defaultTimeMinutes: minutes(partition.default_time_limit),
  };
}

/** Slurm's host lists: `vm`, `node[01-03,7],gpu1` -> each name. */
export function expandHostList(list: string): string[] {
  const names: string[] = [];
  for (const item of list.split(/,(?![^[]*\])/).map((s) => s.trim()).filter(Boolean)) {
    const match = /^([^[]*)\[([^\]]+)\](.*)$/.exec(item);
    if (!match) {
      names.push(item);
      continue;
    }
    const [, prefix, ranges, suffix] = match as unknown as [string, string, string, string];
    for (const range of ranges.split(',')) {
      const [from, to = from] = range.split('-') as [string, string?];
      for (let n = Number(from); n <= Number(to); n++) names.push(`${prefix}${String(n).padStart(from.length, '0')}${suffix}`);
    }
  }
  return names;
}
