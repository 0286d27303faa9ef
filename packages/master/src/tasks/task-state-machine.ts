import { isTerminal, type TaskState } from '@trainyard/shared';
import { DomainError } from '../errors.js';

/**
 * The only place task states change meaning. QUEUED → ASSIGNED → PULLING → RUNNING → an end;
 * an assignment that is never acknowledged, or a lost run with restarts left, goes back to QUEUED.
 */
const TRANSITIONS: Record<TaskState, readonly TaskState[]> = {
  QUEUED: ['ASSIGNED', 'KILLED'],
  ASSIGNED: ['PULLING', 'RUNNING', 'QUEUED', 'COMPLETED', 'FAILED', 'KILLED', 'LOST'],
  PULLING: ['RUNNING', 'QUEUED', 'FAILED', 'KILLED', 'LOST'],
  RUNNING: ['COMPLETED', 'FAILED', 'KILLED', 'LOST', 'QUEUED'],
  COMPLETED: [],
  FAILED: [],
  KILLED: [],
  LOST: [],
};

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(taskId: number, from: TaskState, to: TaskState): void {
  if (canTransition(from, to)) return;
  const why = isTerminal(from) ? `it already ended as ${from}` : `${from} cannot become ${to}`;
  throw new DomainError('ILLEGAL_TRANSITION', `task ${taskId} cannot change to ${to}: ${why}`);
}
