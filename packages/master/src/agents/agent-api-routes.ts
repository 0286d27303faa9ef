import type Router from '@koa/router';
import {
  ackSchema,
  agentIdSchema,
  agentLogsSchema,
  agentTaskParamsSchema,
  heartbeatSchema,
  pollQuerySchema,
  registerAgentSchema,
  reportStateSchema,
} from '@trainyard/shared';
import { z } from 'zod';
import { agentPolicies } from '../authz/agents.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { RunReports } from '../tasks/run-reports.js';
import type { AgentService } from './agent-service.js';

const agentParams = z.strictObject({ id: agentIdSchema });

/** What agents call, each route bound to `agents.api`: an agent token, never a user session. */
export function agentApiRoutes(
  deps: { agents: AgentService; scheduler: Scheduler; reports: RunReports },
  guards: Guards,
): Router<AppState> {
  const { agents, scheduler, reports } = deps;
  const routes = new Routes(guards);

  routes.on('agent.register', agentPolicies.agentApi, async (ctx) => {
    const { id } = validate(agentParams, ctx.params);
    ctx.body = await agents.register(id, ctx.state.agentTokenId!, validate(registerAgentSchema, ctx.state.body));
  });

  routes.on('agent.heartbeat', agentPolicies.agentApi, async (ctx) => {
    const { id } = validate(agentParams, ctx.params);
    validate(heartbeatSchema, ctx.state.body);
    ctx.body = await agents.heartbeat(id);
  });

  routes.on('agent.poll', agentPolicies.agentApi, async (ctx) => {
    const { id } = validate(agentParams, ctx.params);
    const { wait } = validate(pollQuerySchema, ctx.query);
    ctx.body = await scheduler.poll(id, wait * 1000);
  });

  routes.on('agent.ack', agentPolicies.agentApi, async (ctx) => {
    const { id, taskId } = validate(agentTaskParamsSchema, ctx.params);
    ctx.body = await scheduler.acknowledge(id, taskId, validate(ackSchema, ctx.state.body).leaseId);
  });

  routes.on('agent.state', agentPolicies.agentApi, async (ctx) => {
    const { id, taskId } = validate(agentTaskParamsSchema, ctx.params);
    ctx.body = await reports.state(id, taskId, validate(reportStateSchema, ctx.state.body));
  });

  routes.on('agent.logs', agentPolicies.agentApi, async (ctx) => {
    const { id, taskId } = validate(agentTaskParamsSchema, ctx.params);
    ctx.body = await reports.logs(id, taskId, validate(agentLogsSchema, ctx.state.body));
  });

  return routes.router;
}
