import Router from '@koa/router';
import {
  createUserSchema,
  decodeCursor,
  linkAgentUserSchema,
  pageQuerySchema,
  patchUserSchema,
  setPasswordSchema,
  usernameParamSchema,
} from '@trainyard/shared';
import { DomainError } from '../errors.js';
import type { Middleware } from 'koa';
import type { AppState } from '../http/app-state.js';
import { actorOf, authorize } from '../http/authenticate.js';
import { validate } from '../http/validate.js';
import { canChangePassword, canManageUsers, canViewUsers } from './user-policy.js';
import type { UserService } from './user-service.js';
import { toUser } from './user-mapper.js';

export function userRoutes(users: UserService, auth: Middleware<AppState>): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/users', auth, async (ctx) => {
    authorize(canViewUsers(actorOf(ctx)), 'you may not list users');
    const query = validate(pageQuerySchema, ctx.query);
    const afterId = query.after === undefined ? 0 : decodeCursor(query.after);
    if (afterId === undefined) throw new DomainError('INVALID_INPUT', 'after: not a cursor this master issued');
    ctx.body = await users.list(afterId, query.limit);
  });

  router.post('/users', auth, async (ctx) => {
    authorize(canManageUsers(actorOf(ctx)), 'only an admin may create users');
    ctx.status = 201;
    ctx.body = await users.create(validate(createUserSchema, ctx.state.body));
  });

  router.get('/users/:username', auth, async (ctx) => {
    authorize(canViewUsers(actorOf(ctx)), 'you may not view users');
    const { username } = validate(usernameParamSchema, ctx.params);
    ctx.body = toUser(await users.require(username));
  });

  router.patch('/users/:username', auth, async (ctx) => {
    const actor = actorOf(ctx);
    authorize(canManageUsers(actor), 'only an admin may activate, deactivate, change the role or the auth backend of users');
    const { username } = validate(usernameParamSchema, ctx.params);
    const changes = validate(patchUserSchema, ctx.state.body);
    ctx.body = await users.update(username, changes, username === actor.username ? actor.session.id : undefined);
  });

  router.post('/users/:username/password', auth, async (ctx) => {
    const actor = actorOf(ctx);
    const { username } = validate(usernameParamSchema, ctx.params);
    const { password } = validate(setPasswordSchema, ctx.state.body);
    const target = await users.require(username);
    authorize(canChangePassword(actor, target), "only an admin may change another user's password");
    await users.setPassword(target, password, target.id === actor.userId ? actor.session.id : undefined);
    ctx.status = 204;
  });

  router.put('/users/:username/agent-user', auth, async (ctx) => {
    authorize(canManageUsers(actorOf(ctx)), 'only an admin may link users to agent users');
    const { username } = validate(usernameParamSchema, ctx.params);
    ctx.body = await users.setAgentUser(username, validate(linkAgentUserSchema, ctx.state.body));
  });

  router.delete('/users/:username/agent-user', auth, async (ctx) => {
    authorize(canManageUsers(actorOf(ctx)), 'only an admin may unlink users from agent users');
    const { username } = validate(usernameParamSchema, ctx.params);
    ctx.body = await users.setAgentUser(username, null);
  });

  return router;
}
