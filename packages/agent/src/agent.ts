import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { crashPoint, type AgentAction, type AgentResources, type FloorContext, type KnownTask, type LeaseRef, type TaskRunSpec } from '@trainyard/shared';
import { finished, type Executor, type Run, type RunHooks, type RunOutcome } from './executors/executor.js';
import { AGENT_VERSION } from './agent-version.js';
import { guardSpec } from './floor-guard.js';
import { LogShipper } from './log-shipper.js';
import { Backoff, seconds } from './backoff.js';
import { MasterError, UnreachableError, type MasterClient } from './master-client.js';
import { serveStream, type StreamDialer } from './streams.js';
import { detectResources } from './resources.js';

interface Tracked {
  taskId: number;
  leaseId: string;
  run?: Run;
  shipper: LogShipper;
  /** A kill arrived before the run had started. */
  killGraceMs?: number;
  /** The run ended and its outcome is being reported: nothing more to stop. */
  ending?: boolean;
  /** Why the run was stopped from outside the master (a one-shot agent's job ended by Slurm): its outcome's message, once known. */
  endedBecause?: Promise<string>;
}

const POLL_WAIT_SECONDS = 25;

/**
 * The agent: registers, heartbeats, long-polls for work, acknowledges each lease before it
 * starts anything, checks each spec against the floor, runs tasks through its executor, and
 * reports state and output back. Every report is retried until the master answers, and a run's
 * outcome is reported before its traces (container, files) are removed, so a crash of either
 * side at any step leaves a truthful state behind.
 */
export class Agent {
  private readonly tracked = new Map<number, Tracked>();
  private stopping = false;
  private readonly abort = new AbortController();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatIntervalMs = 0;
  /**
   * The master could not be reached and the agent is backing off: heartbeats wait too, so that a
   * restarted master meets each agent when its backoff says, not at its heartbeat timer's phase.
   */
  private disconnected = false;
  /** Retries of the connection to the master (the poll loop's), reset once it answers. */
  private readonly reconnect = new Backoff();
  /**
   * The latest master clock heard in an answer. A heartbeat lists the leases tracked after it
   * was heard and says so, and the master ends as missing only leases acknowledged before it.
   */
  private masterAt: number | undefined;
  /** What the master was last told of this machine's images (JSON), so that a heartbeat says it only when it changed. */
  private imagesSent: string | undefined;
  /** The floor's context, with this machine's GPU count once known. */
  private floor: FloorContext;

  constructor(
    private readonly client: MasterClient,
    private readonly executor: Executor,
    private readonly logger: Logger,
    /** `sharedRoot`: the real path of --shared-root, where groups' shared directories live (unset: none here). */
    private readonly options: {
      labels?: Record<string, string>;
      /** The resource pool it serves (`--pool`). */
      pool?: string;
      floor: FloorContext;
      sharedRoot?: string;
      /** Test mode: report this many fake GPUs. */
      fakeGpus?: number;
      /**
       * A one-shot agent (inside a Slurm job): it runs only this task, and `run` returns once the
       * task's outcome is reported (see `outcome`).
       */
      oneShot?: {
        taskId: number;
        /**
         * Whether the job is being ended from outside (Slurm's signal may kill the task before the
         * agent hears its own): asked before a run that did not complete is reported; the reason, or undefined.
         */
        endedOutside?: () => Promise<string | undefined>;
      };
      /** What this agent has, when it knows better than the machine (a one-shot agent: its job's allocation). */
      resources?: AgentResources;
    },
  ) {
    this.floor = options.floor;
  }

  /** A one-shot agent's task, as it ended and was reported; undefined until then. */
  outcome: RunOutcome | undefined;

  async run(): Promise<void> {
    await this.register();
    while (!this.stopping) {
      try {
        const { actions } = await this.client.poll(POLL_WAIT_SECONDS, this.abort.signal);
        for (const action of actions) await this.handle(action);
      } catch (error) {
        if (this.stopping) break;
        await this.recover(error);
      }
    }
  }

  /** How many times in a row the agent has retried the master since it last answered (0: connected). */
  get reconnectAttempts(): number {
    return this.reconnect.attempts;
  }

  /** Stops polling; running tasks keep running (a restarted agent adopts them). */
  stop(): void {
    this.stopping = true;
    clearInterval(this.heartbeatTimer);
    this.abort.abort();
    this.executor.close?.();
  }

  private async register(): Promise<void> {
    const { resources, notes } = this.options.resources ? { resources: this.options.resources, notes: [] } : await detectResources(this.options.fakeGpus);
    for (const note of notes) this.logger.info(note);
    this.floor = { ...this.options.floor, gpuCount: resources.gpus.length };
    const backoff = new Backoff();
    for (;;) {
      try {
        const images = await this.executor.images();
        const response = await this.client.register({
          executor: this.executor.name,
          resources,
          labels: this.options.labels ?? {},
          version: AGENT_VERSION,
          images,
          ...(this.options.pool ? { pool: this.options.pool } : {}),
        });
        this.imagesSent = JSON.stringify(images);
        this.heard(response.at);
        this.logger.info({ agent: this.client.id, version: AGENT_VERSION, resources, executor: this.executor.describe() }, 'registered with the master');
        await this.reconcileAfterRegister(response.known);
        this.heartbeatIntervalMs = response.heartbeatIntervalMs;
        this.connected();
        return;
      } catch (error) {
        // A refused token or pool will not change by retrying: the agent stops, saying why.
        if (error instanceof MasterError && (error.status === 401 || error.status === 403 || error.code === 'POOL_NOT_FOUND')) throw error;
        if (this.stopping) return;
        const { delayMs, attempt } = backoff.next();
        this.logger.warn({ err: (error as Error).message, attempt, delayMs: Math.round(delayMs) }, `cannot register yet (${(error as Error).message}); retrying in ${seconds(delayMs)} (attempt ${attempt})`);
        await this.sleep(delayMs);
      }
    }
  }

  /** The master answered: backoff starts over, and heartbeats run from now (a phase of this agent's own). */
  private connected(): void {
    this.disconnected = false;
    this.reconnect.reset();
    clearInterval(this.heartbeatTimer);
    if (!this.stopping) this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
  }

  /** Waits, unless the agent is stopping. */
  private async sleep(ms: number): Promise<void> {
    await delay(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  /** The timer's heartbeat: skipped while the agent backs off from an unreachable master (the poll loop's probe reconnects). */
  private async heartbeat(): Promise<void> {
    if (this.disconnected) return;
    try {
      await this.sendHeartbeat();
    } catch (error) {
      if (error instanceof MasterError && error.code === 'AGENT_NOT_FOUND') {
        this.logger.warn('the master no longer knows this agent; registering again');
        await this.register().catch((e: unknown) => this.logger.error({ err: e }, 'registration failed'));
      } else {
        this.logger.debug({ err: (error as Error).message }, 'heartbeat failed');
      }
    }
  }

  /** Says the agent is alive and which leases it holds; stops what the master no longer wants here. */
  private async sendHeartbeat(): Promise<void> {
    // Read together, before any await: every lease acknowledged before `listedAfter` is in `running`.
    const listedAfter = this.masterAt;
    const running: LeaseRef[] = [...this.tracked.values()].map(({ taskId, leaseId }) => ({ taskId, leaseId }));
    const images = await this.executor.images().catch(() => undefined);
    const changed = images !== undefined && JSON.stringify(images) !== this.imagesSent;
    const { known, at } = await this.client.heartbeat(running, listedAfter, changed ? images : undefined);
    this.heard(at);
    if (changed) this.imagesSent = JSON.stringify(images);
    await this.stopUnwanted(known);
  }

  /**
   * After (re)registering, brings what runs here in line with what the master believes. A run
   * it knows is reattached if it started (and reported RUNNING if the agent died before it could
   * say so); one created but never started is removed and its lease given back. Anything else is
   * stopped. An acknowledged lease with no trace here is given back if it never started, else
   * reported lost.
   */
  private async reconcileAfterRegister(known: KnownTask[]): Promise<void> {
    const byTask = new Map(known.map((k) => [k.taskId, k]));
    const found = new Set<number>();
    for (const existing of await this.executor.findExisting()) {
      if (this.tracked.has(existing.taskId)) continue;
      const k = byTask.get(existing.taskId);
      if (!k || k.leaseId !== existing.leaseId || !k.acknowledged) {
        this.logger.warn({ taskId: existing.taskId }, 'stopping a run the master no longer wants');
        await existing.discard().catch((e: unknown) => this.logger.error({ err: e }, 'could not stop an orphan'));
        continue;
      }
      found.add(k.taskId);
      if (!existing.started) {
        this.logger.info({ taskId: k.taskId }, 'found a run that was never started; giving its lease back');
        await existing.discard().catch((e: unknown) => this.logger.error({ err: e }, 'could not remove a run that never started'));
        await this.release(k, 'the agent restarted after preparing the task and before starting it');
        continue;
      }
      this.logger.info({ taskId: k.taskId }, 'reattaching to a task that survived the agent restart');
      const tracked = this.track(k.taskId, k.leaseId, k.logOffset);
      const hooks = this.hooks(tracked);
      tracked.run = await existing.adopt(hooks, k.logOffset);
      if (k.state !== 'RUNNING') await hooks.state('RUNNING');
      void this.finish(tracked);
    }
    for (const k of known) {
      if (!k.acknowledged || this.tracked.has(k.taskId) || found.has(k.taskId)) continue;
      if (k.state === 'RUNNING') {
        await this.retry(() =>
          this.client.reportState(k.taskId, { leaseId: k.leaseId, state: 'LOST', message: 'the agent restarted and the run was gone' }),
        );
      } else {
        await this.release(k, 'the agent restarted before it started the task');
      }
    }
  }

  /** Runs the master no longer lists (it ended, requeued or gave them to another agent) are stopped. */
  private async stopUnwanted(known: KnownTask[]): Promise<void> {
    const byTask = new Map(known.map((k) => [k.taskId, k]));
    for (const tracked of this.tracked.values()) {
      const k = byTask.get(tracked.taskId);
      if (tracked.run && !tracked.ending && (!k || k.leaseId !== tracked.leaseId)) {
        this.logger.warn({ taskId: tracked.taskId }, 'the master ended this run; stopping it');
        await tracked.run.stop(0).catch(() => undefined);
      }
    }
  }

  private async handle(action: AgentAction): Promise<void> {
    const oneShot = this.options.oneShot;
    if (oneShot && action.type === 'start' && action.spec.taskId !== oneShot.taskId) {
      this.logger.error({ taskId: action.spec.taskId }, `a one-shot agent runs task ${oneShot.taskId} only; not starting another`);
      return;
    }
    if (action.type === 'open') {
      // Never awaited: the poll goes on while the stream is served.
      const tracked = this.tracked.get(action.taskId);
      const run = tracked && tracked.leaseId === action.leaseId && !tracked.ending ? tracked.run : undefined;
      void serveStream(action, run, this.dialer, this.logger);
      return;
    }
    if (action.type === 'kill') {
      const tracked = this.tracked.get(action.taskId);
      if (!tracked || tracked.leaseId !== action.leaseId || tracked.ending) return;
      if (tracked.run) await tracked.run.stop(action.graceMs);
      else tracked.killGraceMs = action.graceMs;
      return;
    }
    const { spec } = action;
    // The master redelivers a lease until it is acknowledged: start each lease once (a one-shot agent: its one lease, once).
    if (this.tracked.has(spec.taskId) || (oneShot && this.outcome)) return;
    // Tracked before it is acknowledged, so that every heartbeat sent after the acknowledgement lists it.
    const tracked = this.track(spec.taskId, spec.leaseId, 0);
    crashPoint('agent:after-lease');
    // Retried until the master answers: an acknowledgement lost in a master crash is not a lost task.
    const acknowledged = await this.retry(() => this.client.acknowledge(spec.taskId, spec.leaseId), 'acknowledgement');
    if (!acknowledged) {
      this.logger.info({ taskId: spec.taskId }, 'lease no longer valid; not starting');
      this.tracked.delete(spec.taskId);
      return;
    }
    crashPoint('agent:after-ack');
    void this.launch(tracked, acknowledged);
  }

  private async launch(tracked: Tracked, spec: TaskRunSpec): Promise<void> {
    const guarded = await guardSpec(spec, this.floor, this.options.sharedRoot).catch((error: unknown) => ({
      ok: false as const,
      message: `the agent could not check the task's mounts: ${(error as Error).message}`,
    }));
    if (!guarded.ok) {
      this.logger.warn({ taskId: spec.taskId, reason: guarded.message }, 'refusing a task that breaks the floor');
      tracked.run = finished({ state: 'FAILED', message: guarded.message });
    } else {
      this.logger.info({ taskId: spec.taskId, runAs: spec.runAs, image: spec.image }, 'starting task');
      try {
        tracked.run = await this.executor.start(guarded.spec, this.hooks(tracked));
        if (tracked.killGraceMs !== undefined) await tracked.run.stop(tracked.killGraceMs);
      } catch (error) {
        tracked.run = finished({ state: 'FAILED', message: `could not start: ${(error as Error).message}` });
      }
    }
    await this.finish(tracked);
  }

  /** Reports how a run ended, and only then removes what it left behind. */
  private async finish(tracked: Tracked): Promise<void> {
    let outcome: RunOutcome;
    try {
      outcome = await tracked.run!.done;
    } catch (error) {
      outcome = { state: 'FAILED', message: `the run failed: ${(error as Error).message}` };
    }
    tracked.ending = true;
    // Ended from outside (Slurm's SIGTERM reached the task too): KILLED, saying why, whatever its exit.
    const outside = this.options.oneShot?.endedOutside;
    if (!tracked.endedBecause && outside && (outcome.state === 'FAILED' || outcome.state === 'LOST')) {
      const reason = await outside().catch(() => undefined);
      if (reason) tracked.endedBecause = Promise.resolve(reason);
    }
    if (tracked.endedBecause && outcome.state !== 'COMPLETED') outcome = { ...outcome, state: 'KILLED', message: await tracked.endedBecause };
    crashPoint('agent:after-exit');
    await tracked.shipper.flush();
    await this.retry(() =>
      this.client.reportState(tracked.taskId, {
        leaseId: tracked.leaseId,
        state: outcome.state,
        ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
        ...(outcome.message === undefined ? {} : { message: outcome.message }),
      }),
    );
    this.logger.info({ taskId: tracked.taskId, outcome }, 'task ended');
    if (this.options.oneShot?.taskId === tracked.taskId) this.outcome = outcome;
    await tracked.run!.cleanup().catch((error: unknown) => this.logger.warn({ taskId: tracked.taskId, err: (error as Error).message }, 'could not clean up after a run'));
    this.tracked.delete(tracked.taskId);
    // A one-shot agent's work is done once its task's outcome is reported.
    if (this.outcome) this.stop();
  }

  /**
   * A one-shot agent's job is being ended from outside the master (Slurm's scancel, time limit,
   * preemption: SIGTERM): its task stops within `graceMs` and ends KILLED with `reason`. Marked at
   * once, before the reason is known: Slurm's signal reaches the task at the same moment. Before
   * the task started, the agent simply stops (its lease is given back when it expires).
   */
  endFromOutside(reason: Promise<string>, graceMs: number): void {
    // A run being reported already (Slurm's signal reached the task first) finishes its report, then the agent stops.
    if (this.tracked.size === 0) {
      this.stop();
      return;
    }
    for (const tracked of this.tracked.values()) {
      tracked.endedBecause ??= reason;
      if (tracked.ending) continue;
      if (tracked.run) void tracked.run.stop(graceMs);
      else tracked.killGraceMs = graceMs;
    }
  }

  /**
   * A one-shot agent leaving while its run still goes (the master took its lease away, or would not
   * hear it): the run is stopped and waited for, so that nothing of it outlives the job.
   */
  async stopRuns(graceMs: number): Promise<void> {
    for (const tracked of this.tracked.values()) {
      if (!tracked.run) continue;
      await tracked.run.stop(graceMs).catch(() => undefined);
      await Promise.race([tracked.run.done.catch(() => undefined), delay(graceMs + 2000)]);
    }
  }

  /** Gives back an acknowledged lease under which nothing started: the master queues the task again. */
  private async release(k: KnownTask, reason: string): Promise<void> {
    await this.retry(() => this.client.release(k.taskId, { leaseId: k.leaseId, reason }), 'release');
  }

  private readonly dialer: StreamDialer = {
    tunnel: (streamId) => this.client.dialTunnel(streamId),
    webSocket: (streamId) => this.client.dialStream(streamId),
    failed: (streamId, message) => this.client.streamFailed(streamId, message),
  };

  private heard(at: number): void {
    this.masterAt = Math.max(this.masterAt ?? 0, at);
  }

  private track(taskId: number, leaseId: string, logOffset: number): Tracked {
    const shipper = new LogShipper(this.client, taskId, leaseId, logOffset, (error) =>
      this.logger.warn({ taskId, err: error.message }, 'the master refused log lines'),
    );
    const tracked: Tracked = { taskId, leaseId, shipper };
    this.tracked.set(taskId, tracked);
    return tracked;
  }

  private hooks(tracked: Tracked): RunHooks {
    return {
      state: async (state) => {
        await this.retry(() => this.client.reportState(tracked.taskId, { leaseId: tracked.leaseId, state }));
        if (state === 'RUNNING') crashPoint('agent:after-running');
      },
      output: (stream, line) => tracked.shipper.push(stream, line),
    };
  }

  /** Retries while the master is unreachable (with backoff); a refusal (lease gone) is final: undefined. */
  private async retry<T>(call: () => Promise<T>, what = 'report'): Promise<T | undefined> {
    const backoff = new Backoff();
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof MasterError) {
          this.logger.warn({ err: error.message }, `the master refused a ${what}`);
          return undefined;
        }
        if (this.stopping) return undefined;
        const { delayMs, attempt } = backoff.next();
        this.logger.debug({ err: (error as Error).message, attempt, delayMs: Math.round(delayMs) }, `${what} not delivered; retrying in ${seconds(delayMs)}`);
        await this.sleep(delayMs);
      }
    }
  }

  private async recover(error: unknown): Promise<void> {
    if (this.outcome) {
      // A one-shot agent's token dies with its task's lease: after the report, a refusal is the end.
      this.stop();
      return;
    }
    if (error instanceof MasterError && (error.status === 401 || error.status === 403)) {
      this.logger.fatal({ err: error.message }, 'the master rejected the agent token');
      this.stop();
      throw error;
    }
    if (error instanceof MasterError && error.code === 'AGENT_NOT_FOUND') {
      this.logger.warn('the master no longer knows this agent; registering again');
      await this.register();
      return;
    }
    await this.reconnectAfter(error as Error);
  }

  /**
   * The poll failed for want of a master (down, restarting, a network or proxy in between): back off
   * with jitter, saying so, and probe with a heartbeat (short, and what keeps the agent alive) until
   * the master answers. Heartbeats wait meanwhile, so that after a restart the master meets its
   * agents spread over the backoff's range, not all at once.
   */
  private async reconnectAfter(first: Error): Promise<void> {
    this.disconnected = true;
    let error: Error = first;
    while (!this.stopping) {
      const { delayMs, attempt } = this.reconnect.next();
      const why = error instanceof UnreachableError ? error.message : `the master failed a request: ${error.message}`;
      this.logger.warn({ attempt, delayMs: Math.round(delayMs) }, `${why}; retrying in ${seconds(delayMs)} (attempt ${attempt})`);
      await this.sleep(delayMs);
      if (this.stopping) return;
      try {
        await this.sendHeartbeat();
        this.logger.info({ attempts: attempt }, `the master answers again (after ${attempt} ${attempt === 1 ? 'retry' : 'retries'})`);
        this.connected();
        return;
      } catch (probeError) {
        if (probeError instanceof MasterError && (probeError.status === 401 || probeError.status === 403)) throw probeError;
        if (probeError instanceof MasterError && probeError.code === 'AGENT_NOT_FOUND') {
          this.logger.warn('the master no longer knows this agent; registering again');
          await this.register();
          return;
        }
        error = probeError as Error;
      }
    }
  }
}

