import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import ms from 'ms';
import { IDLE_KINDS, isTerminal, proxyPath, SERVICE_KINDS, type ServiceStatus, type TaskKind, type TaskState } from '@trainyard/shared';
import type { Clock } from '../clock.js';
import type { ExecTarget, LiveRun } from '../resource-managers/resource-manager.js';
import type { TaskWithOwner } from '../tasks/task-repository.js';
import type { TaskService } from '../tasks/task-service.js';
import { DomainError } from '../errors.js';
import { runSpecOf } from '../tasks/task-mapper.js';
import { exchange } from './http-exchange.js';
import { ServiceConnections } from './service-connections.js';

const PROBE_TIMEOUT_MS = 10_000;

/**
 * Connections to running tasks' services and shells, through the resource manager of the task's
 * pool (agents dial them back: TunnelBroker). Keeps one keep-alive pool of such streams per task, so that a page's many
 * requests do not each cost a dial-back; remembers which services answered (readiness) and when
 * each task was last used (idle shutdown).
 */
export class InteractiveService {
  private readonly pools = new Map<number, { leaseId: string; connections: ServiceConnections }>();
  private readonly answered = new Set<string>();
  private readonly lastUsed = new Map<number, number>();
  private readonly openSessions = new Map<number, number>();

  /** Idle time counts from no earlier than this master's start (several masters: when it began to lead): what happened before is not known. */
  private startedAt: number;

  constructor(
    private readonly deps: {
      /** Connections into a task's run: its pool's resource manager makes them. */
      runs: { connect(run: LiveRun, port: number): Promise<Duplex>; exec(run: LiveRun, target: ExecTarget): Promise<WebSocket> };
      clock: Clock;
      logger: Logger;
      tasks: Pick<TaskService, 'runningOfKinds' | 'require' | 'kill'>;
    },
  ) {
    this.startedAt = deps.clock.now();
  }

  /** Several masters: this one leads from now on; the traffic of tasks' services went through another until now. */
  leadershipBegan(): void {
    this.startedAt = this.deps.clock.now();
  }

  /**
   * Stops (KILLED, with the reason as its message) every notebook, TensorBoard and shell that had
   * no proxied traffic and no open shell or WebSocket for `timeoutMs`, by the injected clock.
   */
  async stopIdle(timeoutMs: number): Promise<number[]> {
    const now = this.deps.clock.now();
    const stopped: number[] = [];
    for (const { id, started_at } of await this.deps.tasks.runningOfKinds(IDLE_KINDS)) {
      const { lastUsed, sessions } = this.usage(id);
      const since = Math.max(lastUsed ?? 0, started_at ?? 0, this.startedAt);
      if (sessions > 0 || now - since < timeoutMs) continue;
      const reason = `idle for ${ms(timeoutMs, { long: true })} (no proxied traffic and no shell session; tasks.idle_timeout)`;
      this.deps.logger.info({ taskId: id }, `stopping: ${reason}`);
      await this.deps.tasks.kill(await this.deps.tasks.require(id), { system: 'idle shutdown' }, { reason });
      this.forget(id);
      stopped.push(id);
    }
    return stopped;
  }

  /** The task's run, if it is running now: 410 once it ended, 503 while it has not started yet. */
  live(task: TaskWithOwner): LiveRun {
    const state = task.state as TaskState;
    if (isTerminal(state)) {
      this.forget(task.id);
      throw new DomainError('GONE', `task ${task.id} has ended (${state}): its service and shells are gone`);
    }
    if (state !== 'RUNNING' || !task.agent_id || !task.lease_id) {
      throw new DomainError('NOT_READY', `task ${task.id} is ${state}: it is not running yet, try again in a moment`);
    }
    return { taskId: task.id, pool: task.pool, agentId: task.agent_id, leaseId: task.lease_id };
  }

  /** The port the task's service listens on (its run spec's first port). */
  port(task: TaskWithOwner): number {
    const port = runSpecOf(task).ports[0]?.container;
    if (port === undefined) {
      throw new DomainError('INVALID_INPUT', `task ${task.id} (${task.kind}) serves no port: only notebooks, TensorBoards and tasks with a port can be opened`);
    }
    return port;
  }

  /** A connection to the task's port (its agent dials it back): the service's bytes, as they are. */
  dialPort(run: LiveRun, port: number): Promise<Duplex> {
    return this.deps.runs.connect(run, port);
  }

  /** A WebSocket to a command run in the task (the shell protocol). */
  dialShell(run: LiveRun, target: ExecTarget): Promise<WebSocket> {
    return this.deps.runs.exec(run, target);
  }

  /** The task's keep-alive connections: each new one a connection to the service's port. */
  connections(run: LiveRun, port: number): ServiceConnections {
    const existing = this.pools.get(run.taskId);
    if (existing && existing.leaseId === run.leaseId) return existing.connections;
    existing?.connections.close();
    const connections = new ServiceConnections(() => this.dialPort(run, port));
    this.pools.set(run.taskId, { leaseId: run.leaseId, connections });
    return connections;
  }

  /** Where the task's service is served (on `origin`, null: the master's own) and whether it answered; `probe` asks it now (GET of its base path). */
  async status(task: TaskWithOwner, probe: boolean, origin: string | null): Promise<ServiceStatus> {
    const kind = task.kind as TaskKind;
    const state = task.state as TaskState;
    const port = runSpecOf(task).ports[0]?.container ?? null;
    const base = { taskId: task.id, kind, state, path: proxyPath(task.id), origin, port };
    if (isTerminal(state)) return { ...base, ready: false, message: `the task has ended (${state})` };
    if (port === null) return { ...base, ready: false, message: SERVICE_KINDS.includes(kind) ? 'the task serves no port' : `a ${kind} serves no web page` };
    if (state !== 'RUNNING' || !task.agent_id || !task.lease_id) return { ...base, ready: false, message: `the task is ${state}` };
    const key = `${task.id}:${task.lease_id}`;
    if (this.answered.has(key) || !probe) return { ...base, ready: this.answered.has(key), message: this.answered.has(key) ? null : 'not probed yet' };
    const run = this.live(task);
    const answer = await this.probe(run, port);
    if (answer === true) this.answered.add(key);
    return { ...base, ready: answer === true, message: answer === true ? null : answer };
  }

  /** One GET of the service's base path: true when it answered at all, else why not. */
  private async probe(run: LiveRun, port: number): Promise<true | string> {
    const connections = this.connections(run, port);
    let stream: Duplex | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      stream = await connections.acquire();
      const lent = stream;
      // Its answer is not wanted, only that there is one: the connection is closed after the head.
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS);
        const request = { method: 'GET', path: proxyPath(run.taskId), headers: { host: 'localhost', 'user-agent': 'trainyard-probe' } };
        exchange(lent, request, { head: () => resolve(), body: () => undefined, end: () => undefined }).catch(reject);
      });
      return true;
    } catch (error) {
      return `the service does not answer yet (${(error as Error).message})`;
    } finally {
      clearTimeout(timer);
      if (stream) connections.release(stream, false);
    }
  }

  /** Proxied traffic or a shell: the task is in use now. */
  touch(taskId: number): void {
    this.lastUsed.set(taskId, this.deps.clock.now());
  }

  /** A long-lived session (shell, proxied WebSocket) keeps the task in use until it closes. */
  sessionOpened(taskId: number): () => void {
    this.touch(taskId);
    this.openSessions.set(taskId, (this.openSessions.get(taskId) ?? 0) + 1);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.touch(taskId);
      const left = (this.openSessions.get(taskId) ?? 1) - 1;
      if (left > 0) this.openSessions.set(taskId, left);
      else this.openSessions.delete(taskId);
    };
  }

  /** When the task was last used (undefined: never, since this master started), and whether a session is open. */
  usage(taskId: number): { lastUsed: number | undefined; sessions: number } {
    return { lastUsed: this.lastUsed.get(taskId), sessions: this.openSessions.get(taskId) ?? 0 };
  }

  /** Drops what is kept for a task that ended. */
  forget(taskId: number): void {
    this.pools.get(taskId)?.connections.close();
    this.pools.delete(taskId);
    this.lastUsed.delete(taskId);
    this.openSessions.delete(taskId);
    for (const key of this.answered) if (key.startsWith(`${taskId}:`)) this.answered.delete(key);
  }

  close(): void {
    for (const { connections } of this.pools.values()) connections.close();
    this.pools.clear();
  }
}
