import type Router from '@koa/router';
import type { QueueView } from '@trainyard/shared';
import { quotaPolicies, type QuotaSubjectTarget } from '../authz/quotas.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState, RouteContext } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { GroupService } from '../groups/group-service.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { UserService } from '../users/user-service.js';
import { toIso } from '../clock.js';
import { createQuotaSchema, quotaNameParamSchema, quotaPrincipalSchema, quotaUsageQuerySchema, updateQuotaSchema } from './quota-schema.js';
import type { QuotaService } from './quota-service.js';

/** `yard quota ...` and `yard queue`. */
export function quotaRoutes(
  quotas: QuotaService,
  deps: { users: UserService; groups: GroupService; scheduler: Scheduler; pools: { names(): string[] }; policy: QueueView['policy'] },
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
    // Each pool's queue in its own order (a pool's position counts in that pool), pool after pool.
    // The owners' usage from the same source as `quota show`: the scheduler computes scores only
    // when it orders by them (fair_share with several owners queued), which showed 0 otherwise.
    const usage = await quotas.fairShareUsage();
    const items: QueueView['items'] = [];
    const owners = new Map<number, string>();
    for (const pool of deps.pools.names()) {
      const order = await deps.scheduler.dispatchOrder(pool);
      for (const { task } of order.items) {
        if (!owners.has(task.owner_id)) owners.set(task.owner_id, (await deps.users.requireById(task.owner_id)).username);
      }
      items.push(...order.items.map(({ task, load }, index) => ({
        position: index + 1,
        id: task.id,
        name: task.name,
        owner: owners.get(task.owner_id)!,
        group: task.group_path,
        pool: task.pool,
        createdAt: toIso(task.created_at),
        usage: Math.round(usage.get(task.owner_id)?.score ?? 0),
        // The quotas as they stand now; else what the last scheduling pass found (no agent fits).
        pendingReason: order.gate.blocked(load) ?? (task.pending_reason?.startsWith('QUOTA_') ? null : task.pending_reason),
      })));
    }
    const view: QueueView = { policy: deps.policy, items };
    ctx.body = view;
  });

  return routes.router;
}
