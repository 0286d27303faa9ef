import type Router from '@koa/router';
import { createTokenSchema, tokenNameParamSchema, userQuerySchema } from '@trainyard/shared';
import type { Actor } from '../authz/actor.js';
import { Routes, type Guards } from '../authz/routes.js';
import { tokenPolicies } from '../authz/tokens.js';
import type { AppState, RouteContext } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { UserService } from '../users/user-service.js';
import type { TokenService } from './token-service.js';

/** Your personal API tokens; `?user=NAME` for someone else's (change_config). */
export function tokenRoutes(tokens: TokenService, users: UserService, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);
  const whose = async (ctx: RouteContext, actor: Actor) => {
    const { user } = validate(userQuerySchema, ctx.query);
    return user === undefined || user === actor.username ? { id: actor.userId, username: actor.username } : users.require(user);
  };

  routes.on('tokens.list', tokenPolicies.list, {
    target: whose,
    handle: async (ctx, _actor, user) => {
      ctx.body = { items: await tokens.list(user), next: null };
    },
  });

  routes.on('tokens.create', tokenPolicies.create, async (ctx, actor) => {
    const { name, expires } = validate(createTokenSchema, ctx.state.body);
    ctx.status = 201;
    ctx.body = await tokens.create(actor, name, expires);
  });

  routes.on('tokens.revoke', tokenPolicies.revoke, {
    target: whose,
    handle: async (ctx, actor, user) => {
      ctx.body = await tokens.revoke(actor, user, validate(tokenNameParamSchema, ctx.params).name);
    },
  });

  return routes.router;
}
