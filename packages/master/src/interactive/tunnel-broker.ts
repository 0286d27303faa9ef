import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { AgentAction, StreamTarget } from '@trainyard/shared';
import { DomainError } from '../errors.js';

type OpenAction = Extract<AgentAction, { type: 'open' }>;

interface Pending {
  agentId: string;
  resolve(ws: WebSocket): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Streams the master asks agents to dial back. `open` queues an `open` action for the task's agent
 * (its long poll is woken, as for a kill) and resolves with the WebSocket the agent dials back to
 * `/agents/:id/streams/:streamId`; the agent pipes it to the task's port or a command inside it. So
 * agents only ever connect out, and may sit behind NAT.
 */
export class TunnelBroker {
  private readonly pending = new Map<string, Pending>();
  private readonly queued = new Map<string, OpenAction[]>();

  constructor(
    private readonly deps: {
      /** Answer the agent's waiting poll now. */
      wake: (agentId: string) => void;
      /** How long the agent has to dial back. */
      dialTimeoutMs: number;
    },
  ) {}

  open(agentId: string, task: { id: number; leaseId: string }, target: StreamTarget): Promise<WebSocket> {
    const streamId = randomBytes(16).toString('hex');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(streamId);
        this.drop(agentId, streamId);
        reject(new DomainError('BAD_GATEWAY', `agent ${agentId} did not connect back for task ${task.id} within ${this.deps.dialTimeoutMs / 1000} s: is it running and able to reach the master?`));
      }, this.deps.dialTimeoutMs);
      timer.unref();
      this.pending.set(streamId, { agentId, resolve, reject, timer });
      const list = this.queued.get(agentId) ?? [];
      list.push({ type: 'open', streamId, taskId: task.id, leaseId: task.leaseId, target });
      this.queued.set(agentId, list);
      this.deps.wake(agentId);
    });
  }

  /** The open actions waiting for this agent's poll (taken: each is delivered once). */
  take(agentId: string): OpenAction[] {
    const list = this.queued.get(agentId) ?? [];
    this.queued.delete(agentId);
    return list;
  }

  /** Whether `streamId` is a stream this agent was asked for (checked before the upgrade is accepted). */
  expects(agentId: string, streamId: string): boolean {
    return this.pending.get(streamId)?.agentId === agentId;
  }

  /** The agent dialled back: hand its WebSocket to whoever asked. */
  accept(agentId: string, streamId: string, ws: WebSocket): void {
    const pending = this.pending.get(streamId);
    if (!pending || pending.agentId !== agentId) {
      ws.close(1008, 'no such stream');
      return;
    }
    this.pending.delete(streamId);
    clearTimeout(pending.timer);
    pending.resolve(ws);
  }

  private drop(agentId: string, streamId: string): void {
    const list = this.queued.get(agentId)?.filter((a) => a.streamId !== streamId);
    if (list && list.length > 0) this.queued.set(agentId, list);
    else this.queued.delete(agentId);
  }
}
