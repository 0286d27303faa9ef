import type Router from '@koa/router';
import { agentIdSchema, agentTokenNameSchema, createAgentTokenSchema, patchAgentSchema } from '@trainyard/shared';
import { z } from 'zod';
import { agentPolicies } from '../authz/agents.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { AgentService } from './agent-service.js';
import type { AgentTokenService } from './agent-token-service.js';

/** What people do with agents: list them, disable/enable them, and manage agent tokens. */
export function agentRoutes(agents: AgentService, tokens: AgentTokenService, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);

  routes.on('agents.list', agentPolicies.list, async (ctx) => {
    ctx.body = { items: await agents.list(), next: null };
  });

  routes.on('agents.update', agentPolicies.setEnabled, async (ctx) => {
    const { id } = validate(z.strictObject({ id: agentIdSchema }), ctx.params);
    ctx.body = await agents.setEnabled(id, validate(patchAgentSchema, ctx.state.body).enabled);
  });

  routes.on('agentTokens.list', agentPolicies.listTokens, async (ctx) => {
    ctx.body = { items: await tokens.list(), next: null };
  });

  routes.on('agentTokens.create', agentPolicies.createToken, async (ctx, actor) => {
    ctx.status = 201;
    ctx.body = await tokens.create(actor, validate(createAgentTokenSchema, ctx.state.body).name);
  });

  routes.on('agentTokens.revoke', agentPolicies.revokeToken, async (ctx, actor) => {
    const { name } = validate(z.strictObject({ name: agentTokenNameSchema }), ctx.params);
    ctx.body = await tokens.revoke(actor, name);
  });

  return routes.router;
}
