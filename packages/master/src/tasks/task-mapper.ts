import type { KillRequest, RunSpec, Task, TaskConfig, TaskKind, TaskState, TaskSummary } from '@trainyard/shared';
import type { TaskRow } from '../db/schema.js';
import { toIso } from '../clock.js';
import type { TaskWithOwner } from './task-repository.js';

const isoOrNull = (millis: number | null) => (millis === null ? null : toIso(millis));

export function toTaskSummary(row: TaskWithOwner): TaskSummary {
  const resources = runSpecOf(row).resources;
  return {
    id: row.id,
    kind: row.kind as TaskKind,
    owner: row.owner,
    state: row.state as TaskState,
    name: row.name,
    group: row.group_path,
    pool: row.pool,
    runAs: { uid: row.run_uid, user: row.run_user, gid: row.run_gid, group: row.run_group },
    agent: row.agent_id,
    exitCode: row.exit_code,
    restarts: row.restarts,
    createdAt: toIso(row.created_at),
    startedAt: isoOrNull(row.started_at),
    endedAt: isoOrNull(row.ended_at),
    // Queued, or placed and held by its pool's engine (a Slurm job pending: SLURM:Resources).
    pendingReason: row.state === 'QUEUED' || row.state === 'ASSIGNED' ? row.pending_reason : null,
    killRequest: killRequestOf(row),
    resources: { gpus: resources.gpus ?? 0, cpu: resources.cpu ?? null, memory: resources.memory ?? null },
    priority: row.priority,
    preemptible: row.preemptible === 1,
    preemptions: row.preemptions,
  };
}

/** When a kill was asked, by whom (null: the master, whose reason it then is) and why. */
export function killRequestOf(row: Pick<TaskRow, 'kill_requested_at' | 'kill_requested_by' | 'kill_reason' | 'preempt_requested_at'>): KillRequest | null {
  if (row.kill_requested_at === null) return null;
  return { at: toIso(row.kill_requested_at), by: row.kill_requested_by, reason: row.kill_reason, ...(row.preempt_requested_at === null ? {} : { preempt: true }) };
}

export function toTask(row: TaskWithOwner): Task {
  return {
    ...toTaskSummary(row),
    config: JSON.parse(row.config) as TaskConfig,
    runSpec: runSpecOf(row),
    updatedAt: toIso(row.updated_at),
    killRequested: row.kill_requested_at !== null,
    message: row.message,
    placement: row.placement,
  };
}

/** The task's stored run spec. */
export const runSpecOf = (row: Pick<TaskRow, 'run_spec'>): RunSpec => JSON.parse(row.run_spec) as RunSpec;
