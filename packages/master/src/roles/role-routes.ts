import type Router from '@koa/router';
import { assignmentSchema, createRoleSchema, patchRoleSchema, roleNameParamSchema } from '@trainyard/shared';
import { rolePolicies } from '../authz/roles.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { RoleService } from './role-service.js';

export function roleRoutes(roles: RoleService, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);
  const nameOf = (params: unknown) => validate(roleNameParamSchema, params).name;

  routes.on('roles.list', rolePolicies.list, async (ctx) => {
    ctx.body = { items: await roles.list(), next: null };
  });

  routes.on('roles.create', rolePolicies.create, async (ctx, actor) => {
    ctx.status = 201;
    ctx.body = await roles.create(actor, validate(createRoleSchema, ctx.state.body));
  });

  routes.on('roles.get', rolePolicies.show, async (ctx) => {
    ctx.body = await roles.show(nameOf(ctx.params));
  });

  routes.on('roles.update', rolePolicies.update, async (ctx, actor) => {
    const name = nameOf(ctx.params);
    ctx.body = await roles.update(actor, name, validate(patchRoleSchema, ctx.state.body));
  });

  routes.on('roles.delete', rolePolicies.delete, async (ctx, actor) => {
    ctx.body = await roles.delete(actor, nameOf(ctx.params));
  });

  routes.on('roles.assign', rolePolicies.assign, async (ctx, actor) => {
    const name = nameOf(ctx.params);
    ctx.status = 201;
    ctx.body = await roles.assign(actor, name, validate(assignmentSchema, ctx.state.body));
  });

  /** `?user=NAME` or `?group=PATH`, and `scope=PATH`: the same words that made the assignment. */
  routes.on('roles.unassign', rolePolicies.unassign, async (ctx, actor) => {
    const name = nameOf(ctx.params);
    ctx.body = await roles.unassign(actor, name, validate(assignmentSchema, ctx.query));
  });

  return routes.router;
}
