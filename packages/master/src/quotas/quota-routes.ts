import type Router from '@koa/router';
import { quotaPolicies, type QuotaSubjectTarget } from '../authz/quotas.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState, RouteContext } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { GroupService } from '../groups/group-service.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { UserService } from '../users/user-service.js';
import type { GuaranteeService } from './guarantee-service.js';
import {
  createQuotaSchema,
  guaranteeKeySchema,
  guaranteeListQuerySchema,
  quotaNameParamSchema,
  quotaPrincipalSchema,
  quotaUsageQuerySchema,
  setGuaranteeSchema,
  updateQuotaSchema,
} from './quota-schema.js';
import type { QuotaService } from './quota-service.js';

/** `yard quota ...` (guarantees too) and `yard queue`. */
export function quotaRoutes(
  quotas: QuotaService,
  deps: { users: UserService; groups: GroupService; scheduler: Scheduler; guarantees: GuaranteeService },
  guards: Guards,
): Router<AppState> {
  const routes = new Routes(guards);
  const nameOf = (ctx: RouteContext) => validate(quotaNameParamSchema, ctx.params).name;

  routes.on('quotas.list', quotaPolicies.list, async (ctx) => {
    ctx.body = { items: await quotas.list() };
  });

  routes.on('quotas.create', quotaPolicies.create, async (ctx, actor) => {
    ctx.status = 201;
    ctx.body = await quotas.create(actor, validate(createQuotaSchema, ctx.state.body));
  });

  routes.on('quotas.get', quotaPolicies.get, async (ctx) => {
    ctx.body = await quotas.get(nameOf(ctx));
  });

  routes.on('quotas.update', quotaPolicies.update, async (ctx, actor) => {
    const name = nameOf(ctx);
    ctx.body = await quotas.update(actor, name, validate(updateQuotaSchema, ctx.state.body));
  });

  routes.on('quotas.delete', quotaPolicies.delete, async (ctx, actor) => {
    ctx.body = await quotas.delete(actor, nameOf(ctx));
  });

  routes.on('quotas.assign', quotaPolicies.assign, async (ctx, actor) => {
    const name = nameOf(ctx);
    ctx.status = 201;
    ctx.body = await quotas.assign(actor, name, validate(quotaPrincipalSchema, ctx.state.body));
  });

  routes.on('quotas.unassign', quotaPolicies.unassign, async (ctx, actor) => {
    const name = nameOf(ctx);
    ctx.body = await quotas.unassign(actor, name, validate(quotaPrincipalSchema, ctx.query));
  });

  routes.on('quotas.usage', quotaPolicies.usage, {
    target: async (ctx, actor): Promise<QuotaSubjectTarget> => {
      const query = validate(quotaUsageQuerySchema, ctx.query);
      if (query.group !== undefined) {
        const group = await deps.groups.require(query.group);
        return { group: { id: group.id, path: group.path } };
      }
      const user = query.user === undefined ? await deps.users.requireById(actor.userId) : await deps.users.require(query.user);
      return { user: { id: user.id, username: user.username } };
    },
    handle: async (ctx, _actor, target) => {
      ctx.body = await quotas.usageOf('user' in target ? { userId: target.user.id, username: target.user.username } : { groupId: target.group.id, path: target.group.path });
    },
  });

  routes.on('queue', quotaPolicies.queue, async (ctx) => {
    // Each pool's queue in its own order (a pool's position counts in that pool), pool after pool,
    // with the owners' usage from the same source as `quota show`, and every guarantee's figures.
    ctx.body = await deps.scheduler.queueView();
  });

  routes.on('guarantees.list', quotaPolicies.guarantees, async (ctx) => {
    const query = validate(guaranteeListQuerySchema, ctx.query);
    const items = (await deps.scheduler.guaranteeStatuses()).filter((g) => (query.pool === undefined || g.pool === query.pool) && (query.group === undefined || g.group === query.group));
    ctx.body = { items };
  });

  routes.on('guarantees.set', quotaPolicies.setGuarantee, async (ctx, actor) => {
    const saved = await deps.guarantees.set(actor, validate(setGuaranteeSchema, ctx.state.body));
    ctx.body = (await deps.scheduler.guaranteeStatuses()).find((g) => g.group === saved.group && g.pool === saved.pool);
  });

  routes.on('guarantees.delete', quotaPolicies.deleteGuarantee, async (ctx, actor) => {
    const { group, pool } = validate(guaranteeKeySchema, ctx.query);
    ctx.body = await deps.guarantees.delete(actor, group, pool);
  });

  return routes.router;
}
