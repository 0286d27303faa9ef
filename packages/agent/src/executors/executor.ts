import { constants } from 'node:os';
import type { Duplex, Readable } from 'node:stream';
import type { AgentImage, AgentReportedState, ExecutorName, TaskRunSpec } from '@trainyard/shared';
import type { TcpConnection } from './connect-tcp.js';
import type { PullEvent } from './docker-engine.js';

export type OutputStream = 'stdout' | 'stderr' | 'system';

/** What a run tells the agent as it goes. */
export interface RunHooks {
  state(state: 'PULLING' | 'RUNNING'): Promise<void>;
  output(stream: OutputStream, line: string): void;
}

export interface RunOutcome {
  state: Extract<AgentReportedState, 'COMPLETED' | 'FAILED' | 'KILLED' | 'LOST'>;
  exitCode?: number;
  message?: string;
}

/** One task running under an executor. */
export interface Run {
  /** How the run ended; its traces (container, output files) stay until `cleanup`. */
  readonly done: Promise<RunOutcome>;
  /** SIGTERM, then SIGKILL after `graceMs`; the run then ends KILLED. */
  stop(graceMs: number): Promise<void>;
  /** Removes what the run left, once its outcome has been reported (or refused). */
  cleanup(): Promise<void>;
  /**
   * A TCP connection to the task's port, from this machine: the container's own address on its
   * network (Docker; nothing is published on the host), or 127.0.0.1 (process executor).
   */
  connect?(port: number): Promise<TcpConnection>;
  /** Runs a command inside the task, as the task's uid:gid, with a terminal or plain pipes. */
  exec?(request: ExecRequest): Promise<ExecSession>;
}

export interface ExecRequest {
  command: string[];
  tty: boolean;
  cols?: number;
  rows?: number;
}

/** A command running inside a task (a shell). */
export interface ExecSession {
  write(data: Buffer): void;
  /** End of input (a command without a terminal whose stdin ended). */
  endInput(): void;
  resize(cols: number, rows: number): void;
  /** Output as it comes: 1 stdout (everything, with a terminal), 2 stderr. */
  onOutput(listener: (channel: 1 | 2, data: Buffer) => void): void;
  /** The command's exit code, once its output is all delivered. */
  readonly exit: Promise<number>;
  kill(): void;
}

/** A run left by an earlier agent process on this machine. */
export interface ExistingRun {
  taskId: number;
  leaseId: string;
  /** Whether its process was ever started; one that never was is given back, never reported as run. */
  started: boolean;
  /** Keep reporting it; the first `skipLines` lines of its output were sent already. */
  adopt(hooks: RunHooks, skipLines: number): Promise<Run>;
  /** Stop it and remove what it left: nobody wants it any more, or it never started. */
  discard(): Promise<void>;
}

/**
 * Runs tasks. The agent has checked the spec against the floor and resolved its host paths
 * (real paths, known to exist) before it calls `start`.
 */
export interface Executor {
  readonly name: ExecutorName;
  /** A line for the agent's log: what it runs with. */
  describe(): string;
  start(spec: TaskRunSpec, hooks: RunHooks): Promise<Run>;
  /** The image references that run here without pulling; null: any (the executor ignores images). */
  images(): Promise<string[] | null>;
  /** The engine's images, for `yard image list|pull|load|rm`; absent: this executor holds none (the process executor). */
  readonly imageStore?: ImageStore;
  findExisting(): Promise<ExistingRun[]>;
  /** Frees what the executor holds for itself (not the runs): on agent shutdown. */
  close?(): void;
}

/** The images of an executor's engine, as `yard image ...` reaches them through the agent. */
export interface ImageStore {
  list(): Promise<AgentImage[]>;
  pull(image: string, progress: (event: PullEvent) => void): Promise<void>;
  /** A `docker save` tarball (not compressed): the names and ids the engine loaded. */
  load(tarball: Readable): Promise<{ names: string[]; ids: string[] }>;
  /** A tag or digest; never forced. */
  remove(reference: string): Promise<void>;
}

/** A run that ended before it started anything. */
export function finished(outcome: RunOutcome): Run {
  return { done: Promise.resolve(outcome), stop: async () => undefined, cleanup: async () => undefined };
}

/** 128 + the signal's number, as shells report a command killed by a signal. */
export function signalExitCode(signal: string | number | null | undefined): number {
  if (typeof signal === 'number') return 128 + signal;
  return 128 + (signal ? ((constants.signals as Record<string, number>)[signal] ?? 0) : 0);
}
