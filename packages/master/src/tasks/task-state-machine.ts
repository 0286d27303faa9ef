import { isTerminal, type TaskState } from '@trainyard/shared';
import { DomainError } from '../errors.js';

/**
 * The only place task states change meaning: every change of state is one of these events, and
 * `TaskService.transition` is the only code that applies one. QUEUED → ASSIGNED → (PULLING →)
 * RUNNING → an end. A task completes only from RUNNING: the agent said its process started.
 */
export const TASK_EVENTS = {
  /** The scheduler leased it to an agent. */
  assign: { from: ['QUEUED'], to: 'ASSIGNED' },
  /** Nothing was started (lease expired or given back, agent lost before acknowledging): queued again, at no restart's cost. */
  release: { from: ['ASSIGNED', 'PULLING'], to: 'QUEUED' },
  pull: { from: ['ASSIGNED'], to: 'PULLING' },
  /** The agent started the process. */
  start: { from: ['ASSIGNED', 'PULLING'], to: 'RUNNING' },
  /** The process ran and exited 0. */
  complete: { from: ['RUNNING'], to: 'COMPLETED' },
  /** It could not start, or exited non-zero. */
  fail: { from: ['ASSIGNED', 'PULLING', 'RUNNING'], to: 'FAILED' },
  kill: { from: ['QUEUED', 'ASSIGNED', 'PULLING', 'RUNNING'], to: 'KILLED' },
  /** Its agent went silent, or the run vanished. */
  lose: { from: ['ASSIGNED', 'PULLING', 'RUNNING'], to: 'LOST' },
  /** A failed or lost run with restarts left: queued again, restarts + 1. */
  restart: { from: ['ASSIGNED', 'PULLING', 'RUNNING'], to: 'QUEUED' },
  /**
   * Stopped to give borrowed capacity back to the group that lent it (issue 26): queued again at no
   * restart's cost, once the agent has reported the run stopped (or at once if it never started).
   */
  preempt: { from: ['ASSIGNED', 'PULLING', 'RUNNING'], to: 'QUEUED' },
} as const satisfies Record<string, { from: readonly TaskState[]; to: TaskState }>;

export type TaskEvent = keyof typeof TASK_EVENTS;

/** The event that ends a run with what the agent reported. */
export const OUTCOME_EVENTS = { COMPLETED: 'complete', FAILED: 'fail', KILLED: 'kill', LOST: 'lose' } as const satisfies Record<string, TaskEvent>;

export function canTransition(from: TaskState, to: TaskState): boolean {
  return Object.values(TASK_EVENTS).some((e) => e.to === to && (e.from as readonly TaskState[]).includes(from));
}

/** The state `event` leads to from `from`, or ILLEGAL_TRANSITION (409). */
export function applyEvent(taskId: number, from: TaskState, event: TaskEvent): TaskState {
  const { from: allowed, to } = TASK_EVENTS[event];
  if ((allowed as readonly TaskState[]).includes(from)) return to;
  const why = isTerminal(from) ? `it already ended as ${from}` : `${from} cannot become ${to} (${event})`;
  throw new DomainError('ILLEGAL_TRANSITION', `task ${taskId} cannot change to ${to}: ${why}`);
}

export function assertTransition(taskId: number, from: TaskState, to: TaskState): void {
  if (canTransition(from, to)) return;
  const why = isTerminal(from) ? `it already ended as ${from}` : `${from} cannot become ${to}`;
  throw new DomainError('ILLEGAL_TRANSITION', `task ${taskId} cannot change to ${to}: ${why}`);
}
