import type { Agent } from '@trainyard/shared';
import type { TaskRow } from '../db/schema.js';

/** The pool a task runs in and the pool an agent serves: what the ledger and the overview count them under. */
export function poolOfTask(task: Pick<TaskRow, 'pool'>): string {
  return task.pool;
}

export function poolOfAgent(agent: Pick<Agent, 'pool'>): string {
  return agent.pool;
}
