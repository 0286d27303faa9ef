import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { crashPoint, oneShotAgentId, type RunSpec, type TaskKind, type TaskRunSpec } from '@trainyard/shared';
import type { AgentService } from '../../agents/agent-service.js';
import { oneShotLaunch, type OneShotAgents } from '../../agents/one-shot-placement.js';
import type { Clock } from '../../clock.js';
import { ConfigError } from '../../config/load-config.js';
import type { TaskRow } from '../../db/schema.js';
import { DomainError, policyDenied } from '../../errors.js';
import type { TunnelBroker } from '../../interactive/tunnel-broker.js';
import type { TaskService } from '../../tasks/task-service.js';
import type { AgentChannel } from '../agents/agent-channel.js';
import type { Candidate, Dispatcher, ExecTarget, LiveRun, PlaceResult, PoolCapacity, ResourceManager } from '../resource-manager.js';
import { SLURM_JOB_PREFIX, slurmJobFor, type SlurmPoolSettings } from './slurm-job-spec.js';
import { jobIdOfPlacement, planSlurmReconcile, slurmPlacement, type ReconcileAction } from './slurm-reconcile.js';
import { checkSlurmSpec, checkSlurmUser, slurmJobIdentityMismatch, type NodeUsers } from './slurm-run-as.js';
import { partitionCapacity, SlurmError, type SlurmJob, type SlurmRestClient } from './slurmrestd-client.js';

const MIB = 1024 * 1024;
/** How long `yard pool list` reuses what Slurm said of the partition. */
const CAPACITY_TTL_MS = 2000;
/** A job of this pool whose lease is no task's current one, still running: cancelled after this (its agent, whose token died with the lease, is exiting anyway). */
const ORPHAN_GRACE_MS = 10_000;
/** Beyond kill_grace, before the job of a task whose kill its agent did not carry out is cancelled. */
const KILL_BACKSTOP_MARGIN_MS = 5000;

/** A Slurm pool's settings, as master.yaml gives them (paths resolved, agent_command in words). */
export interface SlurmManagerSettings {
  restUrl: string;
  partition: string;
  account?: string | undefined;
  container: 'none' | 'podman';
  podmanArgs: string[];
  users: 'shared' | 'verify';
  jobDir: string;
  path?: string | undefined;
  agentCommand: string[];
  masterUrl?: string | undefined;
  maxPendingJobs: number;
  pollIntervalMs: number;
  startTimeoutMs: number;
}

export interface SlurmManagerDeps {
  clock: Clock;
  logger: Logger;
  tasks: TaskService;
  agents: Pick<AgentService, 'lastHeard'>;
  channel: Pick<AgentChannel, 'wake'>;
  broker: TunnelBroker;
  oneShot: Pick<OneShotAgents, 'assign' | 'mint'>;
  client: SlurmRestClient;
  /** Who the nodes know (`users: shared`: the master's host answers for them). */
  users: NodeUsers;
  /** Where the one-shot agents reach the master when the pool names no master_url: known once it listens. */
  masterUrl: () => string | undefined;
  /** Words in every job's comment after its name, `master=<tag> pool=<name>`: the jobs this master and pool submitted. */
  tag: string;
  killGraceMs: number;
  heartbeatIntervalMs: number;
}

/** A task placed by the scheduler, on its way to Slurm. */
interface Submission {
  task: TaskRow;
  spec: RunSpec;
  maxRuntimeMs: number | null;
}

/**
 * A pool backed by one partition of a Slurm cluster (`manager: slurm`), through slurmrestd. The
 * scheduler decides which task goes next; this manager submits each as one Slurm job, run as the
 * task's resolved user, whose batch script is a one-shot agent bound to that task (it dials back
 * like any agent: logs, states, kills, the proxy and shells go through the agents' wire). Up to
 * `max_pending_jobs` jobs wait in Slurm's queue at once; what Slurm says of them (its pending
 * reason, jobs it ended itself) is read every `poll_interval` and reconciled with the tasks, which
 * is also how a restarted master finds the jobs it submitted (by name: `trainyard-task-<id>-<lease>`;
 * by comment: this master and pool). See docs/architecture.md, "Slurm".
 */
export class SlurmManager implements ResourceManager {
  readonly kind = 'slurm' as const;
  private dispatcher: Dispatcher | undefined;
  private closed = false;
  /** Tasks being placed and submitted now, and when each submission settled: reconciliation leaves them alone. */
  private readonly inFlight = new Set<number>();
  private readonly settledAt = new Map<number, number>();
  /** Jobs this manager asked Slurm to cancel, and when an orphan was first seen. */
  private readonly cancelled = new Set<number>();
  private readonly orphanSince = new Map<number, number>();
  /** Why Slurm cannot be used now (slurmrestd does not answer, or refuses the master's token); null when it answered. */
  private problem: string | null = null;
  private lastPoll = 0;
  private round: Promise<void> | undefined;
  private again = false;
  /**
   * Why the last decision placed nothing, so that the monitor does not ask again until that changes:
   * every queued task held back by a quota (a quota that frees room says so: workQueued), no room
   * for another pending job (until one starts), Slurm not answering (until it does).
   */
  private idle: 'quotas' | 'room' | 'unavailable' | null = null;
  private capacityCache: { at: number; value: Promise<PoolCapacity> } | undefined;

  constructor(
    readonly pool: string,
    private readonly settings: SlurmManagerSettings,
    private readonly deps: SlurmManagerDeps,
  ) {}

  private get jobSettings(): SlurmPoolSettings {
    const { partition, account, jobDir, path: jobPath } = this.settings;
    return { name: this.pool, partition, jobDir, ...(account ? { account } : {}), ...(jobPath ? { path: jobPath } : {}) };
  }

  /**
   * Checks the partition exists (a misspelt one stops the master, naming the setting) when Slurm
   * answers, then reconciles the jobs Slurm has with the pool's tasks. A Slurm that does not
   * answer does not stop the master: the pool's tasks wait (SLURM_UNAVAILABLE) until it does.
   */
  async start(dispatcher: Dispatcher): Promise<void> {
    this.dispatcher = dispatcher;
    try {
      const partition = await this.deps.client.partition(this.settings.partition);
      if (!partition) throw new ConfigError(`pools.${this.pool}.partition: the Slurm cluster at ${this.settings.restUrl} has no partition '${this.settings.partition}'`);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      // A token Slurm refuses is the pool's settings (jwt_key_file, token_user), not a passing outage.
      if (error instanceof SlurmError && error.kind === 'refused') throw new ConfigError(`pools.${this.pool}: ${error.message}`);
      this.setProblem(error);
      return;
    }
    await this.poll();
  }

  /**
   * What a Slurm pool cannot run, refused before anything is stored: root, a mount elsewhere than
   * its own path without a container, a group's shared directories (no --shared-root in a job),
   * GPUs inside podman (no CDI devices yet), and, with `users: shared`, a user the nodes do not know
   * as the task's uid and primary gid. Each names its rule.
   */
  async refuse(spec: RunSpec): Promise<string | null> {
    const layer = `pool:${this.pool}`;
    checkSlurmSpec(spec, { name: this.pool, container: this.settings.container });
    if (spec.sharedDirs?.length) {
      throw policyDenied(
        `task refused by slurm.shared_dirs: the Slurm pool '${this.pool}' cannot mount group shared directories (${spec.sharedDirs.map((d) => d.group).join(', ')}) yet; ` +
          'run the task outside the group, or in an agents pool whose agents have a --shared-root',
        'slurm.shared_dirs',
        layer,
      );
    }
    if (this.settings.container === 'podman' && spec.resources.gpus > 0) {
      throw policyDenied(
        `task refused by slurm.podman_gpus: the Slurm pool '${this.pool}' runs tasks in rootless podman, which is not given the job's GPUs yet; ` +
          'ask for no GPUs, or use a pool with container: none',
        'slurm.podman_gpus',
        layer,
      );
    }
    if (this.settings.users === 'shared') await checkSlurmUser(spec.runAs, { name: this.pool }, this.deps.users);
    return null;
  }

  /** Images live in each user's podman storage on the nodes, where the master cannot look; without a container none is needed. */
  async whereIs(): Promise<'present' | 'absent' | 'unknown'> {
    return this.settings.container === 'none' ? 'present' : 'unknown';
  }

  admitAgent(): string | null {
    return `'${this.pool}' is a Slurm pool: its tasks run in Slurm jobs the master submits, each with a one-shot agent of its own; start yard-agent with --pool naming an agents pool`;
  }

  workQueued(): void {
    this.idle = null;
    this.kick();
  }

  /**
   * A kill of a task this pool placed. Its agent, once started, hears it at once (its poll is
   * answered with the kill: SIGTERM, SIGKILL after kill_grace, then it reports KILLED and its job
   * ends); the job is cancelled if the task still runs kill_grace later (`reconcile`). A task that
   * had not started was ended by the kill itself: its job leaves Slurm's queue now.
   */
  kill(task: TaskRow): void {
    if (task.agent_id) this.deps.channel.wake(task.agent_id);
    const started = task.state !== 'ASSIGNED' || task.lease_acked_at !== null;
    const jobId = jobIdOfPlacement(task.placement);
    // Not stored yet: the submission finds the lease gone when it notes the job, and cancels it.
    if (!started && jobId !== undefined) void this.cancel(jobId, `task ${task.id} was killed before it started`);
  }

  /** The master's monitor, every second: kills its agents did not carry out, Slurm's news every poll_interval, and room for queued tasks. */
  async reconcile(): Promise<void> {
    if (this.closed) return;
    if (this.deps.clock.now() - this.lastPoll >= this.settings.pollIntervalMs) await this.poll();
    if (!this.dispatcher || !(await this.dispatcher.hasWork(this.pool))) return;
    if (this.idle === 'room' && (await this.waitingInSlurm()) < this.settings.maxPendingJobs) this.idle = null;
    if (this.idle === 'unavailable' && this.problem === null) this.idle = null;
    if (this.idle === null) this.kick();
  }

  /** The pool's placed tasks whose agents have not taken them yet: their jobs wait in Slurm's queue (or are starting). */
  private async waitingInSlurm(): Promise<number> {
    return (await this.deps.tasks.activeInPool(this.pool)).filter((t) => t.state === 'ASSIGNED' && t.lease_acked_at === null).length;
  }

  connect(run: LiveRun, port: number): Promise<Duplex> {
    return this.deps.broker.open(run.agentId, { id: run.taskId, leaseId: run.leaseId }, { kind: 'port', port });
  }

  exec(run: LiveRun, target: ExecTarget): Promise<WebSocket> {
    return this.deps.broker.open(run.agentId, { id: run.taskId, leaseId: run.leaseId }, target);
  }

  /** The partition's nodes that can run jobs and what they have; what Slurm has allocated there (to anyone) and the pool's jobs in its queue. */
  capacity(): Promise<PoolCapacity> {
    const now = this.deps.clock.now();
    if (!this.capacityCache || now - this.capacityCache.at > CAPACITY_TTL_MS) this.capacityCache = { at: now, value: this.readCapacity() };
    return this.capacityCache.value;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.round;
  }

  // ---- placement ----

  /** One dispatch round at a time; a request during one runs another after it. */
  private kick(): void {
    if (this.closed) return;
    if (this.round) {
      this.again = true;
      return;
    }
    this.round = this.dispatchRound()
      .catch((error: unknown) => this.deps.logger.error({ err: error, pool: this.pool }, 'Slurm pool: placing tasks failed'))
      .finally(() => {
        this.round = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          this.kick();
        }
      });
  }

  /**
   * Asks the scheduler for the tasks that may start now, in its order, as many as the pool may have
   * waiting in Slurm's queue; beyond that, and while Slurm does not answer, they wait in Trainyard's
   * queue saying why. Inside the scheduler's section a placement is only the lease (ASSIGNED: the
   * quotas count it at once); the jobs are submitted after it, so that no call to Slurm holds up
   * another pool's decision.
   */
  private async dispatchRound(): Promise<void> {
    const dispatcher = this.dispatcher;
    const masterUrl = this.settings.masterUrl ?? this.deps.masterUrl();
    // Not listening yet (a start that released tasks): the monitor's first round places them.
    if (!dispatcher || !masterUrl) return;
    const room = Math.max(0, this.settings.maxPendingJobs - (await this.waitingInSlurm()));
    const unavailable = this.problem !== null;
    const placed: Submission[] = [];
    let result: Awaited<ReturnType<Dispatcher['dispatch']>>;
    try {
      result = await dispatcher.dispatch(this.pool, {
      // Every queued task is seen, so that those beyond the room are told why they wait.
      limit: Number.MAX_SAFE_INTEGER,
      place: async ({ task, spec, maxRuntimeMs }: Candidate): Promise<PlaceResult> => {
        if (unavailable) return { pending: 'SLURM_UNAVAILABLE' };
        if (placed.length >= room) return { pending: 'SLURM_PENDING_JOBS' };
        // In flight before the lease is written: reconciliation must never see it placed and not yet submitting.
        this.inFlight.add(task.id);
        const assigned = await this.deps.oneShot.assign(task).catch((error: unknown) => {
          this.inFlight.delete(task.id);
          throw error;
        });
        if (!assigned) {
          this.inFlight.delete(task.id);
          return { gone: true };
        }
        placed.push({ task: assigned, spec, maxRuntimeMs });
        return { placed: assigned };
      },
      });
    } finally {
      // Whatever became of the rest of the decision, what was placed is submitted (or given back).
      await Promise.all(placed.map((submission) => this.submit(submission, masterUrl)));
    }
    this.idle = result.heldByQuotas ? 'quotas' : placed.length > 0 ? null : unavailable ? 'unavailable' : room === 0 ? 'room' : null;
  }

  /**
   * Submits the job of a placed task: checks the user once more (the nodes may have changed since
   * admission), mints the one-shot agent's token, submits as the task's user and notes the job id.
   * Slurm not answering gives the lease back (nothing ran; a job Slurm made anyway is an orphan that
   * reconciliation cancels, and its token is dead); Slurm refusing the job ends the task FAILED with
   * Slurm's words.
   */
  private async submit({ task, spec, maxRuntimeMs }: Submission, masterUrl: string): Promise<void> {
    const { tasks, logger, client } = this.deps;
    const leaseId = task.lease_id!;
    let jobId: number | undefined;
    try {
      if (this.settings.users === 'shared') await checkSlurmUser(spec.runAs, { name: this.pool }, this.deps.users);
      const token = await this.deps.oneShot.mint(task);
      crashPoint('master:before-slurm-submit');
      const runSpec: TaskRunSpec = { ...spec, taskId: task.id, leaseId, kind: task.kind as TaskKind, name: task.name };
      const launch = oneShotLaunch(
        { taskId: task.id, token },
        {
          agentCommand: this.settings.agentCommand,
          masterUrl,
          container: this.settings.container === 'podman' ? { kind: 'podman', podmanArgs: this.settings.podmanArgs } : { kind: 'none' },
        },
      );
      const verify = this.settings.users === 'verify';
      const submission = slurmJobFor(runSpec, this.jobSettings, launch, { maxRuntimeMs: maxRuntimeMs ?? undefined, tag: this.deps.tag, hold: verify });
      jobId = await client.submit(spec.runAs.user, submission);
      crashPoint('master:after-slurm-submit');
      const noted = await tasks.notePlacement(task.id, leaseId, { placement: slurmPlacement(jobId) });
      crashPoint('master:after-slurm-placement');
      if (!noted) {
        // Killed (or otherwise moved on) while it was being submitted: its job goes.
        await this.cancel(jobId, `task ${task.id} left its lease while its job was being submitted`);
        return;
      }
      logger.info({ taskId: task.id, pool: this.pool, jobId, user: spec.runAs.user }, 'task submitted to Slurm');
      await tasks.appendLogs(task.id, [{ stream: 'system', line: `[trainyard] submitted to Slurm as job ${jobId} (partition ${this.settings.partition}, as ${spec.runAs.user})` }]);
      if (verify) await this.verifyIdentity(task, jobId);
    } catch (error) {
      await this.submissionFailed(task, error, jobId);
    } finally {
      this.inFlight.delete(task.id);
      this.settledAt.set(task.id, this.deps.clock.now());
    }
  }

  private async submissionFailed(task: TaskRow, error: unknown, jobId: number | undefined): Promise<void> {
    const { tasks, logger } = this.deps;
    const unreachable = error instanceof SlurmError && (error.kind !== 'refused' || error.status === 401 || error.status === 403 || error.errors.some((e) => e.number === -1));
    if (unreachable) {
      // Not the task's fault: Slurm (or the master's token for it) is not usable now. Nothing ran.
      this.setProblem(error);
      await settle(logger, task.id, () => tasks.release(task, `Slurm could not take its job (${(error as Error).message})`));
      return;
    }
    const message =
      error instanceof SlurmError
        ? `Slurm refused its job: ${error.message}`
        : error instanceof DomainError && error.code === 'POLICY_DENIED'
          ? error.message
          : undefined;
    if (message === undefined) {
      logger.error({ err: error, taskId: task.id, pool: this.pool }, 'submitting a task to Slurm failed');
      if (jobId !== undefined) await this.cancel(jobId, 'its submission did not complete');
      await settle(logger, task.id, () => tasks.release(task, `its submission to Slurm failed (${(error as Error).message})`));
      return;
    }
    if (jobId !== undefined) await this.cancel(jobId, message);
    await settle(logger, task.id, () => tasks.finishRun(task, 'FAILED', { message }));
  }

  /**
   * `users: verify`: the job was submitted held; the uid and gid Slurm gave it must be the task's
   * (the master could not look the user up itself). Released when they are, else cancelled and the
   * task FAILED naming the rule.
   */
  private async verifyIdentity(task: TaskRow, jobId: number): Promise<void> {
    const job = await this.deps.client.job(jobId);
    const spec = JSON.parse(task.run_spec) as RunSpec;
    const mismatch = job ? slurmJobIdentityMismatch(job, spec.runAs) : `Slurm no longer knows job ${jobId}`;
    if (!mismatch) {
      await this.deps.client.release(jobId);
      return;
    }
    throw policyDenied(`task refused by slurm.user_unknown: ${mismatch} on the Slurm pool '${this.pool}' (users: verify); an admin links the owner to an account the cluster knows`, 'slurm.user_unknown', `pool:${this.pool}`);
  }

  // ---- reconciliation ----

  /** Reads Slurm's jobs of this pool and brings the tasks in line with them (see planSlurmReconcile). */
  private async poll(): Promise<void> {
    const { clock, tasks, client, agents } = this.deps;
    const readAt = clock.now();
    this.lastPoll = readAt;
    const placed = await tasks.activeInPool(this.pool);
    let jobs: SlurmJob[];
    try {
      jobs = (await client.jobs({ namePrefix: SLURM_JOB_PREFIX })).filter((job) => job.comment === `${job.name} ${this.deps.tag}`);
    } catch (error) {
      this.setProblem(error);
      return;
    }
    if (this.problem !== null) {
      this.deps.logger.info({ pool: this.pool }, 'Slurm answers again');
      this.problem = null;
    }
    const heard = await agents.lastHeard(placed.map((t) => oneShotAgentId(t.id)));
    const heardAt = new Map<number, number>();
    for (const task of placed) {
      const at = heard.get(oneShotAgentId(task.id));
      if (at !== undefined) heardAt.set(task.id, at);
    }
    // Placed or submitted since the tasks were read: the lists may not agree on them yet.
    const skip = (taskId: number) => this.inFlight.has(taskId) || (this.settledAt.get(taskId) ?? -1) >= readAt;
    const quietMs = 2 * this.deps.heartbeatIntervalMs + 1000;
    const actions = planSlurmReconcile({
      now: clock.now(),
      tasks: placed,
      jobs,
      skip,
      heardAt,
      verify: this.settings.users === 'verify',
      timings: { quietMs, startTimeoutMs: this.settings.startTimeoutMs, killBackstopMs: this.deps.killGraceMs + KILL_BACKSTOP_MARGIN_MS },
      outputOf: (job) => `${path.join(this.settings.jobDir, `${job.name}.out`)}${job.node ? ` on ${job.node}` : ''}`,
    });
    const orphans = new Set<number>();
    for (const action of actions) {
      if (action.kind === 'orphan') orphans.add(action.job.id);
      await this.apply(action).catch((error: unknown) => this.deps.logger.error({ err: error, pool: this.pool, action: action.kind }, 'Slurm pool: reconciling a job failed'));
    }
    for (const id of this.orphanSince.keys()) if (!orphans.has(id)) this.orphanSince.delete(id);
    for (const [id, at] of this.settledAt) if (readAt - at > 600_000) this.settledAt.delete(id);
  }

  private async apply(action: ReconcileAction): Promise<void> {
    const { tasks, logger } = this.deps;
    switch (action.kind) {
      case 'adopt': {
        const { task, job } = action;
        if (await tasks.notePlacement(task.id, task.lease_id!, { placement: slurmPlacement(job.id) })) {
          logger.warn({ taskId: task.id, jobId: job.id, pool: this.pool }, "found the task's Slurm job, whose id was never stored; adopted");
          await tasks.appendLogs(task.id, [{ stream: 'system', line: `[trainyard] found its Slurm job ${job.id} after a master restart; following it` }]);
        }
        return;
      }
      case 'pending':
        await tasks.notePlacement(action.task.id, action.task.lease_id!, { pendingReason: action.reason });
        return;
      case 'verify':
        await this.verifyIdentity(action.task, action.job.id).catch((error: unknown) => this.submissionFailed(action.task, error, action.job.id));
        return;
      case 'release':
        if (await settle(logger, action.task.id, () => tasks.release(action.task, action.why))) {
          logger.warn({ taskId: action.task.id, pool: this.pool }, `${action.why}; back to the queue`);
        }
        return;
      case 'end':
        logger.warn({ taskId: action.task.id, pool: this.pool, outcome: action.outcome }, action.message ?? 'its Slurm job ended after a kill');
        await settle(logger, action.task.id, () => tasks.finishRun(action.task, action.outcome, action.message === undefined ? {} : { message: action.message }));
        return;
      case 'cancel':
        await this.cancel(action.job.id, action.why);
        if (action.end) {
          const { task, outcome, message } = action.end;
          await settle(logger, task.id, () => tasks.finishRun(task, outcome, { message }));
        }
        return;
      case 'orphan': {
        const { job } = action;
        const since = this.orphanSince.get(job.id) ?? this.deps.clock.now();
        this.orphanSince.set(job.id, since);
        // Pending: nothing of it runs, it goes now. Running: its agent (its token dead) is on its way out; give it a moment.
        if (job.state === 'PENDING' || this.deps.clock.now() - since > ORPHAN_GRACE_MS) {
          await this.cancel(job.id, `its lease is no task's current one (${job.name})`);
        }
        return;
      }
    }
  }

  /** scancel, once per job; a job Slurm no longer knows is fine. */
  private async cancel(jobId: number, why: string): Promise<void> {
    if (this.cancelled.has(jobId)) return;
    this.cancelled.add(jobId);
    try {
      await this.deps.client.cancel(jobId);
      this.deps.logger.info({ jobId, pool: this.pool, why }, 'Slurm job cancelled');
    } catch (error) {
      // Tried again at the next poll.
      this.cancelled.delete(jobId);
      this.deps.logger.warn({ err: error, jobId, pool: this.pool, why }, 'cancelling a Slurm job failed');
    }
  }

  private setProblem(error: unknown): void {
    const problem = `Slurm at ${this.settings.restUrl}: ${(error as Error).message}`;
    if (problem !== this.problem) this.deps.logger.error({ pool: this.pool }, `${problem}; the pool's tasks wait until it answers`);
    this.problem = problem;
  }

  private async readCapacity(): Promise<PoolCapacity> {
    const { client, tasks } = this.deps;
    const pending = (await tasks.activeInPool(this.pool)).filter((t) => t.state === 'ASSIGNED' && t.lease_acked_at === null && t.placement !== null).length;
    const details = {
      partition: this.settings.partition,
      ...(this.settings.account ? { account: this.settings.account } : {}),
      rest_url: this.settings.restUrl,
      container: this.settings.container,
      users: this.settings.users,
    };
    try {
      const [partition, nodes] = await Promise.all([client.partition(this.settings.partition), client.nodes()]);
      if (!partition) throw new Error(`no partition '${this.settings.partition}'`);
      const c = partitionCapacity(partition, nodes);
      return {
        capacity: { cpu: c.cpus, memory: c.memoryMb * MIB, gpus: c.gpus },
        nodes: c.usableNodes,
        details: { ...details, nodes: partition.nodes },
        engine: { allocated: { cpu: c.allocatedCpus, memory: c.allocatedMemoryMb * MIB, gpus: c.allocatedGpus }, pending, problem: this.problem },
      };
    } catch (error) {
      const problem = `Slurm at ${this.settings.restUrl}: ${(error as Error).message}`;
      return { capacity: { cpu: 0, memory: 0, gpus: 0 }, nodes: 0, details, engine: { allocated: { cpu: 0, memory: 0, gpus: 0 }, pending, problem } };
    }
  }
}

/** Ends or releases one task; one that changed meanwhile (a report raced us) is left to the writer that won. */
async function settle(logger: Logger, taskId: number, change: () => Promise<unknown>): Promise<boolean> {
  try {
    return (await change()) !== false;
  } catch (error) {
    if (error instanceof DomainError && (error.code === 'CONFLICT' || error.code === 'ILLEGAL_TRANSITION')) {
      logger.info({ taskId }, 'the task changed meanwhile; left as it is');
      return false;
    }
    throw error;
  }
}
