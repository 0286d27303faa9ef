import type Router from '@koa/router';
import { createGroupSchema, groupFairShareSchema, groupPathParamSchema, groupPoolSchema, groupUnixSchema, memberParamsSchema, memberSchema, renameGroupSchema, type GroupDetail } from '@trainyard/shared';
import { groupPolicies } from '../authz/groups.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { RoleService } from '../roles/role-service.js';
import type { GroupService } from './group-service.js';
import type { GroupUnixService } from './group-unix-service.js';

/** Groups by path; a path with "/" travels URL-encoded in one segment (`/groups/research%2Fvision`). */
export function groupRoutes(
  groups: GroupService,
  unix: GroupUnixService,
  roles: RoleService,
  /** The pools a group's default may name (master.yaml's): POOL_NOT_FOUND for any other. */
  pools: { get(name: string): unknown },
  guards: Guards,
): Router<AppState> {
  const routes = new Routes(guards);
  const detail = async (path: string): Promise<GroupDetail> => {
    const group = await groups.show(path);
    return { ...group, ...(await roles.ofGroup(group.id)) };
  };

  routes.on('groups.list', groupPolicies.list, async (ctx) => {
    ctx.body = { items: await groups.list(), next: null };
  });

  routes.on('groups.create', groupPolicies.create, async (ctx, actor) => {
    ctx.status = 201;
    ctx.body = await groups.create(actor, validate(createGroupSchema, ctx.state.body).path);
  });

  routes.on('groups.get', groupPolicies.show, async (ctx) => {
    ctx.body = await detail(validate(groupPathParamSchema, ctx.params).path);
  });

  routes.on('groups.setUnix', groupPolicies.setUnix, async (ctx, actor) => {
    const { path } = validate(groupPathParamSchema, ctx.params);
    await unix.set(actor, path, validate(groupUnixSchema, ctx.state.body));
    ctx.body = await detail(path);
  });

  routes.on('groups.setPool', groupPolicies.setPool, async (ctx, actor) => {
    const { path } = validate(groupPathParamSchema, ctx.params);
    const { defaultPool } = validate(groupPoolSchema, ctx.state.body);
    if (defaultPool !== null) pools.get(defaultPool);
    await groups.setDefaultPool(actor, path, defaultPool);
    ctx.body = await detail(path);
  });

  routes.on('groups.setFairShare', groupPolicies.setFairShare, async (ctx, actor) => {
    const { path } = validate(groupPathParamSchema, ctx.params);
    await groups.setFairShareWeight(actor, path, validate(groupFairShareSchema, ctx.state.body).weight);
    ctx.body = await detail(path);
  });

  routes.on('groups.rename', groupPolicies.rename, async (ctx, actor) => {
    const { path } = validate(groupPathParamSchema, ctx.params);
    ctx.body = await groups.rename(actor, path, validate(renameGroupSchema, ctx.state.body).path);
  });

  routes.on('groups.delete', groupPolicies.delete, async (ctx, actor) => {
    ctx.body = await groups.delete(actor, validate(groupPathParamSchema, ctx.params).path);
  });

  routes.on('groups.addMember', groupPolicies.addMember, async (ctx, actor) => {
    const { path } = validate(groupPathParamSchema, ctx.params);
    ctx.body = await groups.addMember(actor, path, validate(memberSchema, ctx.state.body).username);
  });

  routes.on('groups.removeMember', groupPolicies.removeMember, async (ctx, actor) => {
    const { path, username } = validate(memberParamsSchema, ctx.params);
    ctx.body = await groups.removeMember(actor, path, username);
  });

  return routes.router;
}
