import type { Logger } from 'pino';
import type { AgentAction, KnownTask, LeaseRef, TaskRunSpec } from '@trainyard/shared';
import type { Executor, Run, RunHooks, RunOutcome } from './executors/executor.js';
import { LogShipper } from './log-shipper.js';
import { MasterError, type MasterClient } from './master-client.js';
import { detectResources } from './resources.js';

interface Tracked {
  taskId: number;
  leaseId: string;
  run?: Run;
  shipper: LogShipper;
  /** A kill arrived before the run had started. */
  killGraceMs?: number;
}

const POLL_WAIT_SECONDS = 25;
const RETRY_MS = 1000;
export const AGENT_VERSION = '0.1.0';

/**
 * The agent: registers, heartbeats, long-polls for work, acknowledges each lease before it
 * starts anything, runs tasks through its executor, and reports state and output back.
 */
export class Agent {
  private readonly tracked = new Map<number, Tracked>();
  private stopping = false;
  private readonly abort = new AbortController();
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: MasterClient,
    private readonly executor: Executor,
    private readonly logger: Logger,
    private readonly labels: Record<string, string> = {},
  ) {}

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

  /** Stops polling; running tasks keep running (a restarted agent adopts them). */
  stop(): void {
    this.stopping = true;
    clearInterval(this.heartbeatTimer);
    this.abort.abort();
  }

  private async register(): Promise<void> {
    const { resources, notes } = await detectResources();
    for (const note of notes) this.logger.info(note);
    for (;;) {
      try {
        const response = await this.client.register({
          executor: this.executor.name,
          resources,
          labels: this.labels,
          version: AGENT_VERSION,
        });
        this.logger.info({ agent: this.client.id, resources, executor: this.executor.describe() }, 'registered with the master');
        await this.reconcile(response.known, true);
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = setInterval(() => void this.heartbeat(), response.heartbeatIntervalMs);
        return;
      } catch (error) {
        if (error instanceof MasterError && error.status === 401) throw error;
        this.logger.warn({ err: (error as Error).message }, 'cannot register yet; retrying');
        await sleep(RETRY_MS);
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const running: LeaseRef[] = [...this.tracked.values()].map(({ taskId, leaseId }) => ({ taskId, leaseId }));
    try {
      const { known } = await this.client.heartbeat(running);
      await this.reconcile(known, false);
    } catch (error) {
      if (error instanceof MasterError && error.code === 'AGENT_NOT_FOUND') {
        this.logger.warn('the master no longer knows this agent; registering again');
        await this.register().catch((e: unknown) => this.logger.error({ err: e }, 'registration failed'));
      } else {
        this.logger.warn({ err: (error as Error).message }, 'heartbeat failed');
      }
    }
  }

  /**
   * Brings what runs here in line with what the master believes: runs it knows are kept (and,
   * after a restart, reattached), anything else is stopped; runs it expects but that are gone
   * are reported lost.
   */
  private async reconcile(known: KnownTask[], afterRestart: boolean): Promise<void> {
    const byTask = new Map(known.map((k) => [k.taskId, k]));
    if (afterRestart) {
      for (const existing of await this.executor.findExisting()) {
        const k = byTask.get(existing.taskId);
        if (this.tracked.has(existing.taskId)) continue;
        if (k && k.leaseId === existing.leaseId && k.acknowledged && existing.adopt) {
          this.logger.info({ taskId: k.taskId }, 'reattaching to a task that survived the agent restart');
          const tracked = this.track(k.taskId, k.leaseId, k.logOffset);
          tracked.run = await existing.adopt(this.hooks(tracked), k.logOffset);
          void this.finish(tracked);
        } else {
          this.logger.warn({ taskId: existing.taskId }, 'stopping a run the master no longer wants');
          await existing.discard().catch((e: unknown) => this.logger.error({ err: e }, 'could not stop an orphan'));
        }
      }
      for (const k of known) {
        if (k.acknowledged && !this.tracked.has(k.taskId)) {
          await this.client
            .reportState(k.taskId, { leaseId: k.leaseId, state: 'LOST', message: 'the agent restarted and the run was gone or could not be reattached' })
            .catch(() => undefined);
        }
      }
      return;
    }
    for (const tracked of this.tracked.values()) {
      const k = byTask.get(tracked.taskId);
      if (tracked.run && (!k || k.leaseId !== tracked.leaseId)) {
        this.logger.warn({ taskId: tracked.taskId }, 'the master ended this run; stopping it');
        await tracked.run.stop(0).catch(() => undefined);
      }
    }
  }

  private async handle(action: AgentAction): Promise<void> {
    if (action.type === 'kill') {
      const tracked = this.tracked.get(action.taskId);
      if (!tracked || tracked.leaseId !== action.leaseId) return;
      if (tracked.run) await tracked.run.stop(action.graceMs);
      else tracked.killGraceMs = action.graceMs;
      return;
    }
    const { spec } = action;
    // The master redelivers a lease until it is acknowledged: start each lease once.
    if (this.tracked.has(spec.taskId)) return;
    try {
      await this.client.acknowledge(spec.taskId, spec.leaseId);
    } catch (error) {
      if (error instanceof MasterError) {
        this.logger.info({ taskId: spec.taskId }, 'lease no longer valid; not starting');
        return;
      }
      throw error;
    }
    const tracked = this.track(spec.taskId, spec.leaseId, 0);
    void this.launch(tracked, spec);
  }

  private async launch(tracked: Tracked, spec: TaskRunSpec): Promise<void> {
    this.logger.info({ taskId: spec.taskId, runAs: spec.runAs, image: spec.image }, 'starting task');
    try {
      tracked.run = await this.executor.start(spec, this.hooks(tracked));
      if (tracked.killGraceMs !== undefined) await tracked.run.stop(tracked.killGraceMs);
    } catch (error) {
      tracked.run = { done: Promise.resolve({ state: 'FAILED', message: `could not start: ${(error as Error).message}` }), stop: async () => undefined };
    }
    await this.finish(tracked);
  }

  private async finish(tracked: Tracked): Promise<void> {
    let outcome: RunOutcome;
    try {
      outcome = await tracked.run!.done;
    } catch (error) {
      outcome = { state: 'FAILED', message: `the run failed: ${(error as Error).message}` };
    }
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
    this.tracked.delete(tracked.taskId);
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
      state: (state) => this.retry(() => this.client.reportState(tracked.taskId, { leaseId: tracked.leaseId, state })).then(() => undefined),
      output: (stream, line) => tracked.shipper.push(stream, line),
    };
  }

  /** Retries while the master is unreachable; a refusal (lease gone) is final. */
  private async retry<T>(call: () => Promise<T>): Promise<T | undefined> {
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof MasterError) {
          this.logger.warn({ err: error.message }, 'the master refused a report');
          return undefined;
        }
        if (this.stopping) return undefined;
        await sleep(RETRY_MS);
      }
    }
  }

  private async recover(error: unknown): Promise<void> {
    if (error instanceof MasterError && error.status === 401) {
      this.logger.fatal({ err: error.message }, 'the master rejected the agent token');
      this.stop();
      throw error;
    }
    if (error instanceof MasterError && error.code === 'AGENT_NOT_FOUND') {
      this.logger.warn('the master no longer knows this agent; registering again');
      await this.register();
      return;
    }
    this.logger.warn({ err: (error as Error).message }, 'poll failed; retrying');
    await sleep(RETRY_MS);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
