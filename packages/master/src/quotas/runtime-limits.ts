import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { TaskService } from '../tasks/task-service.js';
import type { QuotaService } from './quota-service.js';

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;

/**
 * max_runtime: a running task covered by a quota with one (its owner's, or its group's or a group
 * above it; the tightest wins) gets a line in its log `warningMs` before the limit, and is killed through the
 * task service's normal kill path when it reaches it, ending KILLED with `RUNTIME_LIMIT` as its
 * message. Counted from the current run's start, with the master's clock. Run by the master's
 * monitor; only this kills for a quota (lowering other limits never stops anything).
 */
export class RuntimeLimits {
  /** Tasks already warned, by task id and run start (a restarted run is warned again). */
  private readonly warned = new Set<string>();

  constructor(private readonly deps: { quotas: QuotaService; tasks: TaskService; clock: Clock; logger: Logger; warningMs: number }) {}

  async sweep(): Promise<void> {
    const { quotas, tasks, clock, logger, warningMs } = this.deps;
    const limits = await quotas.runtimeLimits();
    if (limits.none) return;
    const now = clock.now();
    for (const run of await quotas.running()) {
      // The owner's quotas, and those of the task's group and every group above it.
      const quota = limits.tightest(run);
      if (!quota || run.killRequested) continue;
      const limit = quota.maxRuntimeMs!;
      const elapsed = now - run.runStart;
      if (elapsed >= limit) {
        const reason = `RUNTIME_LIMIT: ran ${seconds(elapsed)}, past the max_runtime of ${seconds(limit)} of quota '${quota.name}'`;
        logger.info({ taskId: run.id, quota: quota.name }, 'task past its max_runtime; killing it');
        await tasks.kill(await tasks.require(run.id), { system: 'runtime limit' }, { reason });
        continue;
      }
      const key = `${run.id}:${run.runStart}`;
      if (elapsed >= limit - warningMs && !this.warned.has(key)) {
        this.warned.add(key);
        await tasks.appendLogs(run.id, [
          { stream: 'system', line: `[trainyard] this task will be killed in ${seconds(limit - elapsed)}: quota '${quota.name}' allows ${seconds(limit)} of run time (max_runtime)` },
        ]);
      }
    }
  }
}
