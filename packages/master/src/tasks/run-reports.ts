import { crashPoint, type AgentReportedState, type TaskLogLine, type TaskState } from '@trainyard/shared';
import type { Db } from '../db/database.js';
import { findLeasedTask } from './lease.js';
import type { TaskService } from './task-service.js';

/** What agents report about the runs they hold: state changes and log lines, checked against the lease. */
export class RunReports {
  constructor(private readonly deps: { db: Db; tasks: TaskService }) {}

  async state(
    agentId: string,
    taskId: number,
    report: { leaseId: string; state: AgentReportedState; exitCode?: number; message?: string },
  ): Promise<{ state: TaskState }> {
    const { tasks } = this.deps;
    const task = await findLeasedTask(this.deps.db, agentId, taskId, report.leaseId, { acknowledged: true });
    // A retried report of the state already recorded is fine.
    if (task.state === report.state) return { state: task.state };
    if (report.state === 'PULLING') return { state: (await tasks.transition(task, 'pull')).state as TaskState };
    if (report.state === 'RUNNING') {
      const running = await tasks.transition(task, 'start');
      crashPoint('master:after-running');
      return { state: running.state as TaskState };
    }
    const details = {
      ...(report.exitCode === undefined ? {} : { exitCode: report.exitCode }),
      ...(report.message === undefined ? {} : { message: report.message }),
    };
    const ended = await tasks.finishRun(task, report.state, details);
    return { state: ended.state as TaskState };
  }

  /**
   * The agent gives back an acknowledged lease under which it started nothing (it restarted
   * before starting it): the task is queued again at no restart's cost. Refused once it ran.
   */
  async release(agentId: string, taskId: number, body: { leaseId: string; reason: string }): Promise<{ state: TaskState }> {
    const task = await findLeasedTask(this.deps.db, agentId, taskId, body.leaseId);
    await this.deps.tasks.release(task, `agent ${agentId} gave the task back without starting it (${body.reason})`);
    return { state: (await this.deps.tasks.require(taskId)).state as TaskState };
  }

  /** Appends a batch in order; a batch resent after a lost response is recognised by its offset. */
  async logs(
    agentId: string,
    taskId: number,
    batch: { leaseId: string; offset: number; lines: Array<{ stream: TaskLogLine['stream']; line: string }> },
  ): Promise<{ received: number }> {
    const { db, tasks } = this.deps;
    await findLeasedTask(db, agentId, taskId, batch.leaseId, { acknowledged: true });
    // A gap (the agent lost track) stores nothing and answers where the master is.
    return { received: await tasks.appendRunLogs(taskId, batch.leaseId, batch.offset, batch.lines) };
  }
}
