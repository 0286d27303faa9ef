import type { Db } from '../db/database.js';
import { DomainError } from '../errors.js';
import { ACTIVE_STATES, taskRepository, type TaskWithOwner } from './task-repository.js';

export const leaseInvalid = (taskId: number) =>
  new DomainError('LEASE_INVALID', `the lease on task ${taskId} is no longer valid: it was reassigned, killed or ended`);

/**
 * The task an agent speaks of, if its lease is the current one: a stale lease (a run that
 * was requeued, killed or marked lost) may report nothing and must stop its container.
 */
export async function findLeasedTask(
  db: Db,
  agentId: string,
  taskId: number,
  leaseId: string,
  options: { acknowledged?: boolean } = {},
): Promise<TaskWithOwner> {
  const task = await taskRepository.findById(db, taskId);
  const active = task && (ACTIVE_STATES as readonly string[]).includes(task.state);
  if (!task || !active || task.agent_id !== agentId || task.lease_id !== leaseId) throw leaseInvalid(taskId);
  if (options.acknowledged && task.lease_acked_at === null) throw leaseInvalid(taskId);
  return task;
}
