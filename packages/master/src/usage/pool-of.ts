import type { Agent } from '@trainyard/shared';
import type { TaskRow } from '../db/schema.js';

/**
 * The pool a task runs in and the pool an agent serves: `default` until tasks and agents carry a
 * pool of their own (resource pools), when each becomes the one line that reads it.
 */
export const DEFAULT_POOL = 'default';

export function poolOfTask(_task: Pick<TaskRow, 'id'>): string {
  return DEFAULT_POOL;
}

export function poolOfAgent(_agent: Pick<Agent, 'id' | 'labels'>): string {
  return DEFAULT_POOL;
}

/**
 * Whether a task of `pool` can exist (the task list's `pool` filter): until tasks carry a pool,
 * only DEFAULT_POOL holds any. With pools, this becomes a condition on their column.
 */
export function poolCanHaveTasks(pool: string): boolean {
  return pool === DEFAULT_POOL;
}
