import type Router from '@koa/router';
import {
  ackSchema,
  agentIdSchema,
  agentLogsSchema,
  agentTaskParamsSchema,
  heartbeatSchema,
  pollQuerySchema,
  registerAgentSchema,
  releaseSchema,
  reportStateSchema,
} from '@trainyard/shared';
import { z } from 'zod';
import { agentPolicies } from '../authz/agents.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState, RouteContext } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { AgentChannel } from '../resource-managers/agents/agent-channel.js';
import type { RunReports } from '../tasks/run-reports.js';
import type { AgentService } from './agent-service.js';

export const agentParams = z.strictObject({ id: agentIdSchema });

/**
 * What agents call, with an agent token, never a user session: registration is bound to
 * `agents.register`; every other route to `agents.bound` (the token is the one the agent id is
 * bound to).
 */
export function agentApiRoutes(
  deps: { agents: AgentService; channel: AgentChannel; reports: RunReports },
  guards: Guards,
): Router<AppState> {
  const { agents, channel, reports } = deps;
  const routes = new Routes(guards);
  /** The agent of the path (and the task, on task routes), with the binding the check decides on. */
  const agentTarget = async (ctx: RouteContext) => {
    const { id } = validate(agentParams, ctx.params);
    return agents.binding(id);
  };
  const taskTarget = async (ctx: RouteContext) => {
    const { id, taskId } = validate(agentTaskParamsSchema, ctx.params);
    return { ...(await agents.binding(id)), taskId };
  };

  routes.on('agent.register', agentPolicies.register, async (ctx) => {
    const { id } = validate(agentParams, ctx.params);
    ctx.body = await agents.register(id, ctx.state.agentTokenId!, validate(registerAgentSchema, ctx.state.body), ctx.state.agentTask);
  });

  routes.on('agent.heartbeat', agentPolicies.bound, {
    target: agentTarget,
    handle: async (ctx, { id }) => {
      const { running, listedAfter, images } = validate(heartbeatSchema, ctx.state.body);
      ctx.body = await agents.heartbeat(id, running, listedAfter, images);
    },
  });

  routes.on('agent.poll', agentPolicies.bound, {
    target: agentTarget,
    handle: async (ctx, { id }) => {
      const { wait } = validate(pollQuerySchema, ctx.query);
      ctx.body = await channel.poll(id, wait * 1000);
    },
  });

  routes.on('agent.ack', agentPolicies.bound, {
    target: taskTarget,
    handle: async (ctx, { id, taskId }) => {
      ctx.body = await channel.acknowledge(id, taskId, validate(ackSchema, ctx.state.body).leaseId);
    },
  });

  routes.on('agent.release', agentPolicies.bound, {
    target: taskTarget,
    handle: async (ctx, { id, taskId }) => {
      ctx.body = await reports.release(id, taskId, validate(releaseSchema, ctx.state.body));
    },
  });

  routes.on('agent.state', agentPolicies.bound, {
    target: taskTarget,
    handle: async (ctx, { id, taskId }) => {
      ctx.body = await reports.state(id, taskId, validate(reportStateSchema, ctx.state.body));
    },
  });

  routes.on('agent.logs', agentPolicies.bound, {
    target: taskTarget,
    handle: async (ctx, { id, taskId }) => {
      ctx.body = await reports.logs(id, taskId, validate(agentLogsSchema, ctx.state.body));
    },
  });

  return routes.router;
}
