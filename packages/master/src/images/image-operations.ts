import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentAction, ImageOperation, ImageOperationAgent, ImageOperationKind, ImageReport } from '@trainyard/shared';
import { toIso, type Clock } from '../clock.js';
import { DomainError } from '../errors.js';

/** How long an agent has to pick up its part before it fails for it: it polls at least every 25 s while alive. */
const PICKUP_TIMEOUT_MS = 60_000;
/** How long an ended operation can still be looked at (`yard image pull` follows it to its end). */
const KEEP_MS = 10 * 60_000;
/** An agent that said nothing for this long about a part it took is given up on (a pull reports progress as it goes). */
const SILENCE_TIMEOUT_MS = 15 * 60_000;

interface Operation {
  view: ImageOperation;
  requesterId: number;
  /** Actions not yet delivered, per agent. */
  undelivered: Map<string, AgentAction>;
  /** When each agent last did anything for it (delivery, a report). */
  heardAt: Map<string, number>;
  createdAt: number;
  endedAt: number | undefined;
  listeners: Set<() => void>;
  /** Called once, when every agent's part has ended. */
  onEnded: Array<(view: ImageOperation) => void>;
}

export interface NewOperation {
  kind: ImageOperationKind;
  images: string[];
  pool: string;
  requestedBy: { userId: number; username: string };
  /** The agents asked, each with the action its poll is answered with (its `operationId` is filled in), or why it is skipped. */
  agents: Array<{ agent: string; action?: AgentAction; skipped?: string }>;
}

/**
 * Image operations in flight (`yard image pull|load|rm`), in the master's memory: the actions
 * waiting for each agent's poll (`take`, as kills and streams are delivered), what each agent
 * reports, and long polls of people following them. A master restart forgets them: agents finish
 * what they were doing, and what they now hold shows in `yard image list` at their next heartbeat.
 */
export class ImageOperations {
  private readonly operations = new Map<string, Operation>();

  constructor(
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      /** Answer the agent's waiting poll now. */
      wake: (agentId: string) => void;
    },
  ) {}

  create(request: NewOperation): ImageOperation {
    const id = randomBytes(8).toString('hex');
    const now = this.deps.clock.now();
    const view: ImageOperation = {
      id,
      kind: request.kind,
      images: request.images,
      pool: request.pool,
      requestedBy: request.requestedBy.username,
      createdAt: toIso(now),
      done: false,
      message: null,
      bytes: null,
      version: 1,
      agents: request.agents.map(
        ({ agent, skipped }): ImageOperationAgent => ({
          agent,
          state: skipped ? 'skipped' : 'waiting',
          message: skipped ?? null,
          status: null,
          layers: [],
          bytes: null,
          imageId: null,
        }),
      ),
    };
    const operation: Operation = {
      view,
      requesterId: request.requestedBy.userId,
      // Each action names this operation: its agent reports under that id.
      undelivered: new Map(request.agents.filter((a) => a.action && !a.skipped).map((a) => [a.agent, { ...a.action!, operationId: id } as AgentAction])),
      heardAt: new Map(request.agents.map((a) => [a.agent, now])),
      createdAt: now,
      endedAt: undefined,
      listeners: new Set(),
      onEnded: [],
    };
    this.operations.set(id, operation);
    for (const agent of operation.undelivered.keys()) this.deps.wake(agent);
    this.settleIfEnded(operation);
    return structuredClone(view);
  }

  /** The operation as it is now, and who asked for it (for the check on who may follow it). */
  find(id: string): { view: ImageOperation; requesterId: number } {
    const operation = this.operations.get(id);
    if (!operation) {
      throw new DomainError('OPERATION_NOT_FOUND', `image operation ${id} is not known: operations are kept ${KEEP_MS / 60_000} minutes after they end, and not across a restart of the master`);
    }
    return { view: structuredClone(operation.view), requesterId: operation.requesterId };
  }

  /** Waits up to `waitMs` for the operation to differ from version `seen` (or to end), then answers it. */
  async watch(id: string, seen: number | undefined, waitMs: number): Promise<ImageOperation> {
    const operation = this.operations.get(id);
    if (!operation) return this.find(id).view;
    if (seen !== undefined && seen === operation.view.version && !operation.view.done && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          operation.listeners.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        timer.unref();
        operation.listeners.add(done);
      });
    }
    return structuredClone(operation.view);
  }

  /** The actions waiting for this agent's poll; each is delivered once. */
  take(agentId: string): AgentAction[] {
    const actions: AgentAction[] = [];
    for (const operation of this.operations.values()) {
      const action = operation.undelivered.get(agentId);
      if (!action) continue;
      operation.undelivered.delete(agentId);
      operation.heardAt.set(agentId, this.deps.clock.now());
      actions.push(action);
    }
    return actions;
  }

  /** The agent's report on its part (`POST /agents/:id/image-operations/:operationId`). */
  report(agentId: string, id: string, report: ImageReport): void {
    const operation = this.operations.get(id);
    const part = operation?.view.agents.find((a) => a.agent === agentId);
    if (!operation || !part) throw new DomainError('OPERATION_NOT_FOUND', `agent ${agentId} has no part in image operation ${id}`);
    if (part.state === 'done' || part.state === 'failed' || part.state === 'skipped') return;
    operation.heardAt.set(agentId, this.deps.clock.now());
    this.update(operation, part, {
      state: report.state,
      ...(report.message === undefined ? {} : { message: report.message }),
      ...(report.status === undefined ? {} : { status: report.status }),
      ...(report.layers === undefined ? {} : { layers: report.layers }),
      ...(report.bytes === undefined ? {} : { bytes: report.bytes }),
      ...(report.imageId === undefined ? {} : { imageId: report.imageId }),
    });
  }

  /** The master's own word on one agent's part (a load's stream: bytes sent, the agent's result). */
  setAgent(id: string, agentId: string, changes: Partial<Omit<ImageOperationAgent, 'agent'>>): void {
    const operation = this.operations.get(id);
    const part = operation?.view.agents.find((a) => a.agent === agentId);
    if (!operation || !part || part.state === 'done' || part.state === 'failed' || part.state === 'skipped') return;
    operation.heardAt.set(agentId, this.deps.clock.now());
    this.update(operation, part, changes);
  }

  /** Changes to the operation as a whole (a load's names, bytes received). */
  set(id: string, changes: Partial<Pick<ImageOperation, 'images' | 'bytes'>>): void {
    const operation = this.operations.get(id);
    if (!operation) return;
    Object.assign(operation.view, changes);
    this.changed(operation);
  }

  /** Ends the operation for every agent still at it, with `message` (a load refused as a whole). */
  fail(id: string, message: string): void {
    const operation = this.operations.get(id);
    if (!operation || operation.view.done) return;
    operation.view.message = message;
    operation.undelivered.clear();
    for (const part of operation.view.agents) {
      if (part.state === 'waiting' || part.state === 'running') Object.assign(part, { state: 'failed', message: part.message ?? message });
    }
    this.changed(operation);
  }

  /** Runs `then` once every agent's part has ended (at once, if it has). */
  whenEnded(id: string, then: (view: ImageOperation) => void): void {
    const operation = this.operations.get(id);
    if (!operation) return;
    if (operation.view.done) then(structuredClone(operation.view));
    else operation.onEnded.push(then);
  }

  /** Whether any operation still waits for an agent (the monitor then checks which agents are alive). */
  inFlight(): boolean {
    for (const operation of this.operations.values()) if (!operation.view.done) return true;
    return false;
  }

  /**
   * The master's monitor: an agent that never picked its part up, or fell silent, fails it; ended
   * operations are forgotten after a while.
   */
  sweep(isAlive: (agentId: string) => boolean): void {
    const now = this.deps.clock.now();
    for (const [id, operation] of this.operations) {
      if (operation.view.done) {
        if (now - (operation.endedAt ?? now) > KEEP_MS) this.operations.delete(id);
        continue;
      }
      for (const part of operation.view.agents) {
        if (part.state !== 'waiting' && part.state !== 'running') continue;
        const quiet = now - (operation.heardAt.get(part.agent) ?? operation.createdAt);
        const why = !isAlive(part.agent)
          ? `agent ${part.agent} is not alive (lost, or gone)`
          : part.state === 'waiting' && quiet > PICKUP_TIMEOUT_MS
            ? `agent ${part.agent} did not take it up within ${PICKUP_TIMEOUT_MS / 1000} s`
            : quiet > SILENCE_TIMEOUT_MS
              ? `agent ${part.agent} said nothing about it for ${SILENCE_TIMEOUT_MS / 60_000} minutes`
              : undefined;
        if (!why) continue;
        operation.undelivered.delete(part.agent);
        this.deps.logger.warn({ operation: id, agent: part.agent }, why);
        this.update(operation, part, { state: 'failed', message: why });
      }
    }
  }

  private update(operation: Operation, part: ImageOperationAgent, changes: Partial<Omit<ImageOperationAgent, 'agent'>>): void {
    Object.assign(part, changes);
    this.changed(operation);
  }

  private changed(operation: Operation): void {
    operation.view.version += 1;
    this.settleIfEnded(operation);
    for (const listener of [...operation.listeners]) listener();
  }

  private settleIfEnded(operation: Operation): void {
    if (operation.view.done || operation.view.agents.some((a) => a.state === 'waiting' || a.state === 'running')) return;
    operation.view.done = true;
    operation.endedAt = this.deps.clock.now();
    const callbacks = operation.onEnded.splice(0);
    for (const callback of callbacks) {
      try {
        callback(structuredClone(operation.view));
      } catch (error) {
        this.deps.logger.error({ err: error, operation: operation.view.id }, 'an image operation could not be finished');
      }
    }
  }
}
