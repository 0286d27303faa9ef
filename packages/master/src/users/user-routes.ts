import type Router from '@koa/router';
import {
  createUserSchema,
  decodeCursor,
  linkAgentUserSchema,
  pageQuerySchema,
  patchUserSchema,
  setPasswordSchema,
  usernameParamSchema,
} from '@trainyard/shared';
import { Routes, type Guards } from '../authz/routes.js';
import { userPolicies } from '../authz/users.js';
import { DomainError } from '../errors.js';
import type { AppState, RouteContext } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { RoleService } from '../roles/role-service.js';
import type { UserService } from './user-service.js';

export function userRoutes(users: UserService, roles: RoleService, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);
  const named = (ctx: RouteContext) => users.require(validate(usernameParamSchema, ctx.params).username);

  routes.on('users.list', userPolicies.list, async (ctx) => {
    const query = validate(pageQuerySchema, ctx.query);
    const afterId = query.after === undefined ? 0 : decodeCursor(query.after);
    if (afterId === undefined) throw new DomainError('INVALID_INPUT', 'after: not a cursor this master issued');
    ctx.body = await users.list(afterId, query.limit);
  });

  routes.on('users.create', userPolicies.create, async (ctx, actor) => {
    ctx.status = 201;
    ctx.body = await users.create(actor, validate(createUserSchema, ctx.state.body));
  });

  routes.on('users.get', userPolicies.view, async (ctx) => {
    ctx.body = await users.presentOne(await named(ctx));
  });

  routes.on('users.access', userPolicies.access, {
    target: named,
    handle: async (ctx, _actor, user) => {
      ctx.body = await roles.accessOf(user);
    },
  });

  routes.on('users.update', userPolicies.update, async (ctx, actor) => {
    const { username } = validate(usernameParamSchema, ctx.params);
    const changes = validate(patchUserSchema, ctx.state.body);
    // Moving your own account to another backend keeps the session that did it.
    const keep = username === actor.username && actor.via !== 'api_token' ? actor.session.id : undefined;
    ctx.body = await users.update(actor, username, changes, keep);
  });

  routes.on('users.setPassword', userPolicies.setPassword, {
    target: named,
    handle: async (ctx, actor, target) => {
      const { password } = validate(setPasswordSchema, ctx.state.body);
      // Your own change keeps the session that made it (an API token is no session to keep).
      const keep = target.id === actor.userId && actor.via !== 'api_token' ? actor.session.id : undefined;
      await users.setPassword(actor, target, password, keep);
      ctx.status = 204;
    },
  });

  routes.on('users.link', userPolicies.link, async (ctx, actor) => {
    const { username } = validate(usernameParamSchema, ctx.params);
    ctx.body = await users.setAgentUser(actor, username, validate(linkAgentUserSchema, ctx.state.body));
  });

  routes.on('users.unlink', userPolicies.unlink, async (ctx, actor) => {
    const { username } = validate(usernameParamSchema, ctx.params);
    ctx.body = await users.setAgentUser(actor, username, null);
  });

  return routes.router;
}
