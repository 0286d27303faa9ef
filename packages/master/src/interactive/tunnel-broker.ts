import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { streamUpgrade, type AgentAction, type StreamTarget } from '@trainyard/shared';
import { DomainError } from '../errors.js';

type OpenAction = Extract<AgentAction, { type: 'open' }>;
type PortTarget = Extract<StreamTarget, { kind: 'port' }>;
type ExecTarget = Extract<StreamTarget, { kind: 'exec' }>;
/** A dialled-back stream: the raw connection for a port, a WebSocket for a shell. */
export type Dialled = Duplex | WebSocket;

interface Pending {
  agentId: string;
  /** The upgrade the agent must dial back with (`streamUpgrade`): a port's bytes raw, a shell's as messages. */
  upgrade: string;
  resolve(stream: Dialled): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Streams the master asks agents to dial back. `open` queues an `open` action for the task's agent
 * (its long poll is woken, as for a kill) and resolves with the connection the agent dials back to
 * `/agents/:id/streams/:streamId`; the agent pipes it to the task's port (raw bytes after an
 * upgrade to `trainyard-tcp`) or a command inside it (a WebSocket). So agents only ever connect
 * out, and may sit behind NAT.
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

  open(agentId: string, task: { id: number; leaseId: string }, target: PortTarget): Promise<Duplex>;
  open(agentId: string, task: { id: number; leaseId: string }, target: ExecTarget): Promise<WebSocket>;
  open(agentId: string, task: { id: number; leaseId: string }, target: StreamTarget): Promise<Dialled> {
    const { streamId, stream } = this.expect(agentId, streamUpgrade(target), `for task ${task.id}`);
    const list = this.queued.get(agentId) ?? [];
    list.push({ type: 'open', streamId, taskId: task.id, leaseId: task.leaseId, target });
    this.queued.set(agentId, list);
    this.deps.wake(agentId);
    return stream;
  }

  /**
   * A stream this agent will be asked to dial back by an action someone else delivers (an image
   * load's): its id, and the connection once the agent dials it (a 502 after `dial_timeout`).
   */
  expect(agentId: string, upgrade: string, what: string): { streamId: string; stream: Promise<Dialled> } {
    const streamId = randomBytes(16).toString('hex');
    const stream = new Promise<Dialled>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(streamId);
        this.drop(agentId, streamId);
        reject(new DomainError('BAD_GATEWAY', `agent ${agentId} did not connect back ${what} within ${this.deps.dialTimeoutMs / 1000} s: is it running and able to reach the master?`));
      }, this.deps.dialTimeoutMs);
      timer.unref();
      this.pending.set(streamId, { agentId, upgrade, resolve, reject, timer });
    });
    return { streamId, stream };
  }

  /** The open actions waiting for this agent's poll (taken: each is delivered once). */
  take(agentId: string): OpenAction[] {
    const list = this.queued.get(agentId) ?? [];
    this.queued.delete(agentId);
    return list;
  }

  /** The upgrade `streamId` must come with, if it is a stream this agent was asked for (checked before the upgrade is accepted). */
  expects(agentId: string, streamId: string): string | undefined {
    const pending = this.pending.get(streamId);
    return pending?.agentId === agentId ? pending.upgrade : undefined;
  }

  /** The agent dialled back (with the upgrade `expects` named): hand its connection to whoever asked. */
  accept(agentId: string, streamId: string, stream: Dialled): void {
    const pending = this.claim(agentId, streamId);
    if (!pending) {
      if ('terminate' in stream) stream.terminate();
      else stream.destroy();
      return;
    }
    pending.resolve(stream);
  }

  /** The agent could not connect the stream: whoever asked gets a 502 saying why. */
  fail(agentId: string, streamId: string, message: string): void {
    const pending = this.claim(agentId, streamId);
    if (!pending) throw new DomainError('NOT_FOUND', `no stream ${streamId} is waiting for agent ${agentId}`);
    pending.reject(new DomainError('BAD_GATEWAY', `agent ${agentId} could not connect the stream: ${message}`));
  }

  /** The stream this agent was asked for, no longer waited for (its timer stopped); undefined if there is none. */
  private claim(agentId: string, streamId: string): Pending | undefined {
    const pending = this.pending.get(streamId);
    if (!pending || pending.agentId !== agentId) return undefined;
    this.pending.delete(streamId);
    clearTimeout(pending.timer);
    return pending;
  }

  private drop(agentId: string, streamId: string): void {
    const list = this.queued.get(agentId)?.filter((a) => a.streamId !== streamId);
    if (list && list.length > 0) this.queued.set(agentId, list);
    else this.queued.delete(agentId);
  }
}
