import Router from '@koa/router';
import type { Middleware } from 'koa';
import { agentIdSchema, agentTokenNameSchema, createAgentTokenSchema, patchAgentSchema } from '@trainyard/shared';
import { z } from 'zod';
import type { AppState } from '../http/app-state.js';
import { actorOf, authorize } from '../http/authenticate.js';
import { validate } from '../http/validate.js';
import { canManageAgents, canViewAgents } from './agent-policy.js';
import type { AgentService } from './agent-service.js';
import type { AgentTokenService } from './agent-token-service.js';

/** What people do with agents: list them, disable/enable them, and manage agent tokens. */
export function agentRoutes(agents: AgentService, tokens: AgentTokenService, auth: Middleware<AppState>): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/agents', auth, async (ctx) => {
    authorize(canViewAgents(actorOf(ctx)), 'you may not list agents');
    ctx.body = { items: await agents.list(), next: null };
  });

  router.patch('/agents/:id', auth, async (ctx) => {
    authorize(canManageAgents(actorOf(ctx)), 'only an admin may enable or disable agents');
    const { id } = validate(z.strictObject({ id: agentIdSchema }), ctx.params);
    ctx.body = await agents.setEnabled(id, validate(patchAgentSchema, ctx.state.body).enabled);
  });

  router.get('/agent-tokens', auth, async (ctx) => {
    authorize(canManageAgents(actorOf(ctx)), 'only an admin may list agent tokens');
    ctx.body = { items: await tokens.list(), next: null };
  });

  router.post('/agent-tokens', auth, async (ctx) => {
    const actor = actorOf(ctx);
    authorize(canManageAgents(actor), 'only an admin may create agent tokens');
    ctx.status = 201;
    ctx.body = await tokens.create(actor, validate(createAgentTokenSchema, ctx.state.body).name);
  });

  router.delete('/agent-tokens/:name', auth, async (ctx) => {
    authorize(canManageAgents(actorOf(ctx)), 'only an admin may revoke agent tokens');
    const { name } = validate(z.strictObject({ name: agentTokenNameSchema }), ctx.params);
    ctx.body = await tokens.revoke(name);
  });

  return router;
}
