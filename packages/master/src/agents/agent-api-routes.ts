import Router from '@koa/router';
import type { Middleware } from 'koa';
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
import type { AppState, RouteContext } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { RunReports } from '../tasks/run-reports.js';
import type { AgentService } from './agent-service.js';

const agentParams = z.strictObject({ id: agentIdSchema });

/**
 * What agents call, each route behind `agentAuth` (an agent token), never a user session; every
 * route but registration also checks that the token is the one the agent id is bound to.
 */
export function agentApiRoutes(
  deps: { agents: AgentService; scheduler: Scheduler; reports: RunReports },
  agentAuth: Middleware<AppState>,
): Router<AppState> {
  const { agents, scheduler, reports } = deps;
  const router = new Router<AppState>();
  /** The agent id of the path, once its token is known to act for it. */
  const boundAgent = async (ctx: RouteContext) => {
    const params = validate(agentParams, ctx.params);
    await agents.requireBound(params.id, ctx.state.agentTokenId!);
    return params;
  };
  const boundTask = async (ctx: RouteContext) => {
    const params = validate(agentTaskParamsSchema, ctx.params);
    await agents.requireBound(params.id, ctx.state.agentTokenId!);
    return params;
  };

  router.post('/agents/:id/register', agentAuth, async (ctx) => {
    const { id } = validate(agentParams, ctx.params);
    ctx.body = await agents.register(id, ctx.state.agentTokenId!, validate(registerAgentSchema, ctx.state.body));
  });

  router.post('/agents/:id/heartbeat', agentAuth, async (ctx) => {
    const { id } = await boundAgent(ctx);
    ctx.body = await agents.heartbeat(id, validate(heartbeatSchema, ctx.state.body).running);
  });

  router.get('/agents/:id/work', agentAuth, async (ctx) => {
    const { id } = await boundAgent(ctx);
    const { wait } = validate(pollQuerySchema, ctx.query);
    ctx.body = await scheduler.poll(id, wait * 1000);
  });

  router.post('/agents/:id/tasks/:taskId/ack', agentAuth, async (ctx) => {
    const { id, taskId } = await boundTask(ctx);
    ctx.body = await scheduler.acknowledge(id, taskId, validate(ackSchema, ctx.state.body).leaseId);
  });

  router.post('/agents/:id/tasks/:taskId/release', agentAuth, async (ctx) => {
    const { id, taskId } = await boundTask(ctx);
    ctx.body = await reports.release(id, taskId, validate(releaseSchema, ctx.state.body));
  });

  router.post('/agents/:id/tasks/:taskId/state', agentAuth, async (ctx) => {
    const { id, taskId } = await boundTask(ctx);
    ctx.body = await reports.state(id, taskId, validate(reportStateSchema, ctx.state.body));
  });

  router.post('/agents/:id/tasks/:taskId/logs', agentAuth, async (ctx) => {
    const { id, taskId } = await boundTask(ctx);
    ctx.body = await reports.logs(id, taskId, validate(agentLogsSchema, ctx.state.body));
  });

  return router;
}
