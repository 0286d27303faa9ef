import type Router from '@koa/router';
import { WebSocket, type RawData } from 'ws';
import { agentIdSchema, proxyPath, streamFailureSchema, taskIdParamSchema, type ShellControl } from '@trainyard/shared';
import { z } from 'zod';
import { agentPolicies } from '../authz/agents.js';
import { Routes, type Guards } from '../authz/routes.js';
import { taskPolicies } from '../authz/tasks.js';
import type { AgentService } from '../agents/agent-service.js';
import { DomainError } from '../errors.js';
import type { AppState, RouteContext } from '../http/app-state.js';
import { acceptTunnel, acceptWebSocket, takeUpgrade } from '../http/upgrade.js';
import { validate } from '../http/validate.js';
import type { TaskService } from '../tasks/task-service.js';
import type { InteractiveService } from './interactive-service.js';
import type { ServicesOrigin } from './services-origin.js';
import type { TunnelBroker } from './tunnel-broker.js';

export const streamParams = z.strictObject({ id: agentIdSchema, streamId: z.string().regex(/^[0-9a-f]{32}$/, 'not a stream id') });

export const shellQuery = z.strictObject({
  command: z
    .string()
    .max(64 * 1024)
    .transform((text, check) => {
      try {
        const parsed: unknown = JSON.parse(text);
        if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((p) => typeof p === 'string')) return parsed as string[];
      } catch {
        // Reported below.
      }
      check.addIssue({ code: 'custom', message: 'command must be a JSON array of strings' });
      return z.NEVER;
    })
    .optional(),
  tty: z.enum(['true', 'false']).transform((v) => v === 'true').default(true),
  cols: z.coerce.number().int().min(1).max(1000).optional(),
  rows: z.coerce.number().int().min(1).max(1000).optional(),
});

/** The login shell when no command is given: bash where the image has it, else sh. */
const LOGIN_SHELL = ['/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi'];

const needsUpgrade = (what: string) => new DomainError('INVALID_INPUT', `${what} is a WebSocket: connect with an Upgrade request (yard shell open does)`);

/**
 * Routes of notebooks, TensorBoards and shells: a service's status, the proxy's entry, the shell
 * WebSocket (users), and the streams agents dial back (agents).
 */
export function interactiveRoutes(
  deps: { tasks: TaskService; agents: AgentService; interactive: InteractiveService; broker: TunnelBroker; services: ServicesOrigin },
  guards: Guards,
): { api: Router<AppState>; root: Router<AppState> } {
  const { tasks, agents, interactive, broker, services } = deps;
  const api = new Routes(guards);
  const root = new Routes(guards);
  const task = (ctx: RouteContext) => tasks.target(validate(taskIdParamSchema, ctx.params).id);
  /** An agent's stream: the agent's binding (for `agents.bound`) and the stream's id. */
  const stream = async (ctx: RouteContext) => {
    const { id, streamId } = validate(streamParams, ctx.params);
    return { ...(await agents.binding(id)), streamId };
  };

  api.on('tasks.service', taskPolicies.read, {
    target: task,
    handle: async (ctx, _actor, target) => {
      const probe = ctx.query.probe === 'true';
      ctx.body = await interactive.status(target.task, probe, services.origin(ctx.state.client));
    },
  });

  root.on('tasks.proxy', taskPolicies.open, {
    target: task,
    handle: async (ctx, _actor, target) => {
      ctx.redirect(proxyPath(target.id));
    },
  });

  api.on('tasks.shell', taskPolicies.open, {
    target: task,
    handle: async (ctx, _actor, target) => {
      const query = validate(shellQuery, ctx.query);
      const run = interactive.live(target.task);
      if (!ctx.get('upgrade')) throw needsUpgrade(`GET ${ctx.path}`);
      const origin = ctx.get('origin');
      if (origin && !ctx.state.site.isOwnOrigin(origin, ctx.state.client)) throw new DomainError('FORBIDDEN', `a WebSocket from ${origin} may not open a shell`);
      // The agent's end first: a task that cannot be reached is an HTTP error, not a WebSocket that closes at once.
      const remote = await interactive.dialShell(run, {
        kind: 'exec',
        command: query.command ?? LOGIN_SHELL,
        tty: query.tty,
        ...(query.cols ? { cols: query.cols } : {}),
        ...(query.rows ? { rows: query.rows } : {}),
      });
      // The command may print before the user's end is accepted: held, then relayed in order.
      const held: Array<{ data: RawData; binary: boolean }> = [];
      const hold = (data: RawData, binary: boolean) => held.push({ data, binary });
      remote.on('message', hold);
      const upgrade = takeUpgrade(ctx);
      if (!upgrade) {
        remote.close();
        throw needsUpgrade(`GET ${ctx.path}`);
      }
      const client = await acceptWebSocket(ctx, upgrade);
      ctx.state.log.info({ taskId: run.taskId, user: ctx.state.actor?.username, command: query.command ?? 'login shell' }, 'shell opened');
      remote.off('message', hold);
      for (const { data, binary } of held) client.send(data, { binary });
      relay(client, remote, interactive.sessionOpened(run.taskId));
    },
  });

  api.on('agent.stream', agentPolicies.bound, {
    target: stream,
    handle: async (ctx, { id, streamId }) => {
      const expected = broker.expects(id, streamId);
      if (!expected) throw new DomainError('NOT_FOUND', `no stream ${streamId} is waiting for agent ${id}`);
      const upgrade = takeUpgrade(ctx, expected);
      if (!upgrade) throw new DomainError('INVALID_INPUT', `GET ${ctx.path} must come with Upgrade: ${expected} for this stream`);
      broker.accept(id, streamId, expected === 'websocket' ? await acceptWebSocket(ctx, upgrade) : acceptTunnel(upgrade, expected));
    },
  });

  api.on('agent.streamFailed', agentPolicies.bound, {
    target: stream,
    handle: async (ctx, { id, streamId }) => {
      broker.fail(id, streamId, validate(streamFailureSchema, ctx.state.body).message);
      ctx.body = {};
    },
  });

  return { api: api.router, root: root.router };
}

/** Message for message, both ways; either side closing closes the other. */
function relay(client: WebSocket, remote: WebSocket, closed: () => void): void {
  client.on('message', (data, binary) => remote.readyState === WebSocket.OPEN && remote.send(data, { binary }));
  remote.on('message', (data, binary) => client.readyState === WebSocket.OPEN && client.send(data, { binary }));
  const end = (other: WebSocket) => (code: number, reason: Buffer) => {
    closed();
    if (other.readyState === WebSocket.OPEN) other.close(code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000, reason);
  };
  client.on('close', end(remote));
  remote.on('close', end(client));
  // A short command can end (its exit sent, its socket closed) before the user's end was accepted:
  // what it said was replayed, and its close is passed on now.
  if (remote.readyState === WebSocket.CLOSED) end(client)(1000, Buffer.alloc(0));
  const fail = (other: WebSocket) => () => {
    const message: ShellControl = { type: 'error', message: 'the connection to the task broke' };
    if (other.readyState === WebSocket.OPEN) other.send(JSON.stringify(message));
    other.terminate();
  };
  client.on('error', fail(remote));
  remote.on('error', fail(client));
}
