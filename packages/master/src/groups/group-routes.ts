import type Router from '@koa/router';
import { createGroupSchema, groupPathParamSchema, memberParamsSchema, memberSchema, renameGroupSchema, type GroupDetail } from '@trainyard/shared';
import { groupPolicies } from '../authz/groups.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { RoleService } from '../roles/role-service.js';
import type { GroupService } from './group-service.js';

/** Groups by path; a path with "/" travels URL-encoded in one segment (`/groups/research%2Fvision`). */
export function groupRoutes(groups: GroupService, roles: RoleService, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);

  routes.get('/groups', groupPolicies.list, async (ctx) => {
    ctx.body = { items: await groups.list(), next: null };
  });

  routes.post('/groups', groupPolicies.create, async (ctx, actor) => {
    ctx.status = 201;
    ctx.body = await groups.create(actor, validate(createGroupSchema, ctx.state.body).path);
  });

  routes.get('/groups/:path', groupPolicies.show, async (ctx) => {
    const group = await groups.show(validate(groupPathParamSchema, ctx.params).path);
    const body: GroupDetail = { ...group, ...(await roles.ofGroup(group.id)) };
    ctx.body = body;
  });

  routes.patch('/groups/:path', groupPolicies.rename, async (ctx, actor) => {
    const { path } = validate(groupPathParamSchema, ctx.params);
    ctx.body = await groups.rename(actor, path, validate(renameGroupSchema, ctx.state.body).path);
  });

  routes.delete('/groups/:path', groupPolicies.delete, async (ctx, actor) => {
    ctx.body = await groups.delete(actor, validate(groupPathParamSchema, ctx.params).path);
  });

  routes.post('/groups/:path/members', groupPolicies.addMember, async (ctx, actor) => {
    const { path } = validate(groupPathParamSchema, ctx.params);
    ctx.body = await groups.addMember(actor, path, validate(memberSchema, ctx.state.body).username);
  });

  routes.delete('/groups/:path/members/:username', groupPolicies.removeMember, async (ctx, actor) => {
    const { path, username } = validate(memberParamsSchema, ctx.params);
    ctx.body = await groups.removeMember(actor, path, username);
  });

  return routes.router;
}
