import type { AgentReportedState, ExecutorName, TaskRunSpec } from '@trainyard/shared';

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
  readonly done: Promise<RunOutcome>;
  /** SIGTERM, then SIGKILL after `graceMs`; the run then ends KILLED. */
  stop(graceMs: number): Promise<void>;
}

/** A run left by an earlier agent process on this machine. */
export interface ExistingRun {
  taskId: number;
  leaseId: string;
  /** Keep reporting it; the first `skipLines` lines of its output were sent already. Undefined when it cannot be reattached. */
  adopt?: (hooks: RunHooks, skipLines: number) => Promise<Run>;
  /** Stop and clean it up: nobody wants it any more. */
  discard(): Promise<void>;
}

export interface Executor {
  readonly name: ExecutorName;
  /** A line for the agent's log: what it runs with. */
  describe(): string;
  start(spec: TaskRunSpec, hooks: RunHooks): Promise<Run>;
  findExisting(): Promise<ExistingRun[]>;
}
