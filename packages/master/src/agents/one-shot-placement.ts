import { oneShotAgentId } from '@trainyard/shared';
import type { TaskRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { TaskService } from '../tasks/task-service.js';
import type { AgentTokenService } from './agent-token-service.js';

/** What a resource manager hands the job it submits for one task. */
export interface OneShotPlacement {
  agentId: string;
  leaseId: string;
  /** The one-shot agent's token: valid only as `agentId`, on this task, while it holds `leaseId`. */
  token: string;
}

/**
 * For the resource-manager seam (issue 22): a manager that starts one job per task (Slurm) runs a
 * one-shot agent in it, as the task's user. `place` leases a task the scheduler decided may start
 * to that agent (`task-<id>`; its poll then delivers the lease like any assignment) and mints the
 * agent's token; `launch` is the command line and environment the job runs. From then on the
 * agent speaks the agents' protocol: acknowledgement, states, logs, kills, streams for the proxy
 * and shells. The seam decides when to place and what to do while the job waits in Slurm's queue
 * (today's lease_timeout would give a lease that waits longer back to the queue).
 */
export class OneShotAgents {
  constructor(private readonly deps: { tasks: TaskService; tokens: AgentTokenService }) {}

  /** Leases a QUEUED task to its one-shot agent; undefined when another writer took the task first. */
  async place(taskId: number): Promise<OneShotPlacement | undefined> {
    const assigned = await this.assign(await this.deps.tasks.require(taskId));
    return assigned && { agentId: assigned.agent_id!, leaseId: assigned.lease_id!, token: await this.mint(assigned) };
  }

  /**
   * The first half of `place`, for a manager inside the scheduler's dispatch section: the task
   * (as the scheduler read it) leased to its one-shot agent, ASSIGNED; undefined when another
   * writer took it first. The token is minted after (`mint`), outside the section.
   */
  async assign(task: TaskRow): Promise<TaskRow | undefined> {
    return this.deps.tasks.assign(task, oneShotAgentId(task.id)).catch((error: unknown) => {
      if (error instanceof DomainError && error.code === 'ILLEGAL_TRANSITION') return undefined;
      throw error;
    });
  }

  /** The one-shot agent's token for the task's current lease (earlier ones of the task are revoked). */
  mint(task: Pick<TaskRow, 'id' | 'lease_id'>): Promise<string> {
    return this.deps.tokens.mintForTask(task.id, task.lease_id!);
  }

  /** Whether a one-shot agent's lease is still the task's (its token is worth something only then). */
  async leaseCurrent(taskId: number, leaseId: string): Promise<boolean> {
    try {
      await this.deps.tasks.findLeased(oneShotAgentId(taskId), taskId, leaseId);
      return true;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'LEASE_INVALID') return false;
      throw error;
    }
  }
}

/**
 * The one-shot agent's command line and environment for a placement: `agentCommand` is how the
 * nodes start yard-agent (a pool setting: `yard-agent`, or `node /opt/trainyard/.../yard-agent.js`),
 * `masterUrl` the master as the nodes reach it. The token travels in the environment, never on
 * the command line (which every user of the node can read in ps).
 */
export function oneShotLaunch(
  placement: Pick<OneShotPlacement, 'token'> & { taskId: number },
  options: {
    agentCommand: string[];
    masterUrl: string;
    /** The pool's `container`: none (on the node), or podman with the options its nodes need. */
    container?: { kind: 'none' } | { kind: 'podman'; podmanArgs?: string[] };
  },
): { command: string[]; environment: Record<string, string> } {
  const container = options.container?.kind === 'podman' ? ['--container', 'podman', ...(options.container.podmanArgs ?? []).map((arg) => `--podman-arg=${arg}`)] : [];
  return {
    command: [...options.agentCommand, '--one-shot', '--task', String(placement.taskId), '--master', options.masterUrl, ...container],
    environment: { YARD_AGENT_TOKEN: placement.token },
  };
}
