import type { Logger } from 'pino';

/**
 * The scheduler's entry point. `taskQueued` is called for every new QUEUED task.
 * Until agents poll the master for work (packages/agent), queued tasks simply wait here:
 * assignment, first come first served among tasks whose resources fit an agent, lands
 * with the agents' long-poll endpoint.
 */
export class Scheduler {
  constructor(private readonly logger: Logger) {}

  taskQueued(taskId: number): void {
    this.logger.debug({ taskId }, 'task queued; waiting for an agent');
  }
}
